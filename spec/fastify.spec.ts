// Fastify 5 with @fastify/passport, set up as the README does: @fastify/secure-session for the
// session decorator @fastify/passport insists on, and the package's bearerChallenges plugin,
// without which the 400 and the 403 would carry no challenge.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fastifyPassport from '@fastify/passport';
import fastifySecureSession from '@fastify/secure-session';
import Fastify from 'fastify';
import { bearerChallenges } from '../src/fastify.js';
import { RedisMultiTokenStrategy } from '../src/index.js';
import { describeEdge } from './support/edge-suite.js';
import { call } from './support/http.js';
import { ada } from './support/users.js';

describeEdge('Fastify 5 with @fastify/passport', {
  async start(tokens) {
    const app = Fastify();
    await app.register(fastifySecureSession, { key: randomBytes(32) });
    await app.register(fastifyPassport.initialize());
    await app.register(bearerChallenges);
    fastifyPassport.use(new RedisMultiTokenStrategy({ repository: tokens }));

    app.get('/me', { preValidation: fastifyPassport.authenticate('redis-multi-token') }, async (request) => {
      return { user: request.user, token: request.authInfo };
    });
    app.get('/admin', { preValidation: fastifyPassport.authenticate('redis-multi-token', { scope: 'admin' }) }, async (request) => {
      return { user: request.user, token: request.authInfo };
    });
    app.post('/logout', { preValidation: fastifyPassport.authenticate('redis-multi-token') }, async (request, reply) => {
      await tokens.expireToken(request.authInfo);
      return reply.code(204).send();
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
  },
  whileUp: [
    [
      'sets no session cookie on a bearer request',
      async ({ url, tokens }) => {
        const { token } = await tokens.createToken(ada);
        const res = await call(`${url}/me`, { token: token.key });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('set-cookie'), null);
      },
    ],
  ],
});
