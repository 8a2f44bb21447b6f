import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { BearerChallenge } from './bearer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the strategy left on a request it refused: status and challenge. */
    bearerChallenge?: BearerChallenge | undefined;
  }
}

// A Fastify request holds no reference to its reply, so the strategy cannot set the challenge
// itself; @fastify/passport sets it on a 401 only. This hook completes the 400 and the 403.
function addChallengeHook(app: FastifyInstance, _options: unknown, done: (err?: Error) => void): void {
  app.addHook('onSend', (request, reply, payload, next) => {
    const refusal = request.bearerChallenge;
    if (refusal !== undefined && reply.statusCode === refusal.status && !reply.hasHeader('www-authenticate')) {
      reply.header('WWW-Authenticate', refusal.challenge);
    }
    next(null, payload);
  });
  done();
}

/**
 * The Fastify plugin that gives every 400, 401 and 403 of the strategy its
 * `WWW-Authenticate` challenge under `@fastify/passport`; register it once, at the root.
 *
 * @example
 * ```ts
 * import { bearerChallenges } from 'passport-redis-multi-token/fastify';
 * await app.register(bearerChallenges);
 * ```
 */
export const bearerChallenges: FastifyPluginCallback = Object.assign(addChallengeHook, {
  // What fastify-plugin would set: the hook applies to the whole app, not one encapsulated
  // context, and the plugin has a name others can depend on.
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'passport-redis-multi-token',
  [Symbol.for('plugin-meta')]: { name: 'passport-redis-multi-token', fastify: '5.x' },
});
