// Express 4 with passport. Express 4 does not catch a rejected promise of an async route: the
// README's Express 4 routes hand every rejection to next(), which these checks hold it to,
// with Redis down, where a rejection that escaped would take the process down.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express4';
import passport from 'passport';
import { RedisMultiTokenStrategy } from '../src/index.js';
import { describeEdge } from './support/edge-suite.js';
import { call, listen } from './support/http.js';
import { ada, users } from './support/users.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
before(() => {
  process.on('unhandledRejection', onUnhandled);
});
after(() => {
  process.off('unhandledRejection', onUnhandled);
});

describeEdge('Express 4.21 with passport', {
  async start(tokens) {
    passport.use(new RedisMultiTokenStrategy({ repository: tokens }));
    const app = express();
    app.use(express.json());
    app.post('/login', (req: Request, res: Response, next: NextFunction) => {
      const user = users.get(String((req.body as { userId?: unknown }).userId));
      tokens
        .createToken(user!, { device: req.get('user-agent') ?? null })
        .then(({ token, first }) => res.json({ token: token.key, firstDevice: first }))
        .catch(next);
    });
    app.get('/me', passport.authenticate('redis-multi-token'), (req, res) => {
      res.json({ user: req.user, token: req.authInfo });
    });
    app.get('/admin', passport.authenticate('redis-multi-token', { scope: 'admin' }), (req, res) => {
      res.json({ user: req.user, token: req.authInfo });
    });
    app.post('/logout', passport.authenticate('redis-multi-token'), (req, res, next) => {
      tokens
        .expireToken(req.authInfo)
        .then(() => res.sendStatus(204))
        .catch(next);
    });
    app.use((err: Error & { statusCode?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.statusCode ?? 500).json({ error: err.name });
    });
    return listen(app);
  },
  whileUp: [
    [
      'logs in through the async /login route',
      async ({ url }) => {
        const res = await call(`${url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: ada.id }),
        });
        assert.equal(res.status, 200);
        const { token } = JSON.parse(res.body) as { token: string };
        assert.equal((await call(`${url}/me`, { token })).status, 200);
      },
    ],
  ],
  whileDown: [
    [
      'answers the async /login with 503 while Redis is down, and the process lives on',
      async ({ url }) => {
        // A rejection Express 4 never sees leaves the request unanswered: fail, do not hang.
        const res = await call(`${url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ userId: ada.id }),
          signal: AbortSignal.timeout(15_000),
        });
        assert.equal(res.status, 503);
        assert.deepEqual(JSON.parse(res.body), { error: 'MultiTokenStoreError' });
        // Still serving, and nothing escaped as an unhandled rejection.
        assert.equal((await call(`${url}/me`)).status, 401);
        assert.deepEqual(unhandled, []);
      },
    ],
  ],
});
