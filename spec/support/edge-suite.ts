// RFC 6750's edge as a client sees it (status and WWW-Authenticate), checked the same way for
// every framework the package supports: real HTTP, and a redis-server of the spec file's own,
// which the last checks stop.
//
// Each app under test serves, with the strategy registered under 'redis-multi-token' on the
// repository it is given:
//   GET  /me      200 { user: req.user, token: req.authInfo }
//   GET  /admin   the same, demanding the scope 'admin'
//   POST /logout  expireToken(req.authInfo), then 204
// and answers a store error with its statusCode (503), the framework's own way.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiTokenRepository } from '../../src/index.js';
import { call, callRepeated, type RunningApp } from './http.js';
import { uniquePrefix, type RedisServer } from './redis-server.js';
import { sharedRedis } from './shared-redis.js';
import { ada, users, type User } from './users.js';

/** What each extra check is given. */
export interface EdgeContext {
  readonly url: string;
  readonly tokens: MultiTokenRepository<User>;
  readonly server: RedisServer;
}

export type EdgeCase = readonly [title: string, run: (context: EdgeContext) => Promise<void>];

export interface EdgeSuiteOptions {
  /** Starts the app under test on the suite's repository. */
  start(tokens: MultiTokenRepository<User>): Promise<RunningApp>;
  /** Checks of the framework's own, run while Redis is up. */
  whileUp?: readonly EdgeCase[];
  /** Checks run after the 503 check, with Redis stopped. */
  whileDown?: readonly EdgeCase[];
}

const BARE = 'Bearer realm="Users"';
const INVALID_REQUEST = 'Bearer realm="Users", error="invalid_request"';
const INVALID_TOKEN = 'Bearer realm="Users", error="invalid_token"';
const INSUFFICIENT_SCOPE = 'Bearer realm="Users", scope="admin", error="insufficient_scope"';
// Short, so the checks with Redis stopped answer quickly.
const TIMEOUT_MS = 400;

/** Registers the edge checks for one framework. */
export function describeEdge(title: string, options: EdgeSuiteOptions): void {
  describe(title, () => {
    // A server of the suite's own: the last checks stop it.
    const shared = sharedRedis({ own: true });
    let tokens: MultiTokenRepository<User>;
    let app: RunningApp;
    const context = (): EdgeContext => ({ url: app.url, tokens, server: shared.server });

    shared.before(async () => {
      tokens = new MultiTokenRepository<User>({
        redis: shared.client,
        keyPrefix: uniquePrefix('edge'),
        findUser: (id) => users.get(id) ?? null,
        timeout: TIMEOUT_MS,
      });
      app = await options.start(tokens);
    });
    shared.after(() => app?.close());

    it('answers a fresh token with 200, its user and its token info', async () => {
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const res = await call(`${app.url}/me`, { token: token.key });
      assert.equal(res.status, 200);
      assert.equal(res.challenge, null);
      const body = JSON.parse(res.body) as { user: User; token: { id: string; userId: string; device: string } };
      assert.deepEqual(body.user, ada);
      assert.equal(body.token.id, token.id);
      assert.equal(body.token.userId, '1');
      assert.equal(body.token.device, 'phone');
      assert.equal(res.body.includes(token.key), false, 'the key never comes back');
    });

    it('answers no token with 401 and a bare challenge', async () => {
      const res = await call(`${app.url}/me`);
      assert.equal(res.status, 401);
      assert.equal(res.challenge, BARE);
    });

    it('answers `Authorization: Bearer a b` with 400 invalid_request', async () => {
      const res = await call(`${app.url}/me`, { headers: { authorization: 'Bearer a b' } });
      assert.equal(res.status, 400);
      assert.equal(res.challenge, INVALID_REQUEST);
    });

    it('answers two Authorization headers with 400 invalid_request, even when the first holds a valid token', async () => {
      const { token } = await tokens.createToken(ada);
      for (const second of [`Bearer ${token.key}`, 'Bearer other', 'Basic dXNlcjpwYXNz']) {
        const res = await callRepeated(`${app.url}/me`, { authorization: [`Bearer ${token.key}`, second] });
        assert.equal(res.status, 400, second);
        assert.equal(res.challenge, INVALID_REQUEST);
      }
    });

    it('answers a revoked token with 401 invalid_token', async () => {
      const { token } = await tokens.createToken(ada);
      assert.equal(await tokens.expireToken(token.key), true);
      const res = await call(`${app.url}/me`, { token: token.key });
      assert.equal(res.status, 401);
      assert.equal(res.challenge, INVALID_TOKEN);
    });

    it("answers a token lacking the route's scope with 403 insufficient_scope, and one holding it with 200", async () => {
      const reader = (await tokens.createToken(ada, { scopes: ['read'] })).token.key;
      const refused = await call(`${app.url}/admin`, { token: reader });
      assert.equal(refused.status, 403);
      assert.equal(refused.challenge, INSUFFICIENT_SCOPE);
      const admin = (await tokens.createToken(ada, { scopes: ['admin'] })).token.key;
      const allowed = await call(`${app.url}/admin`, { token: admin });
      assert.equal(allowed.status, 200);
      assert.equal(allowed.challenge, null);
    });

    it('logs a device out, after which its token gets 401 invalid_token and the other device still 200', async () => {
      const phone = (await tokens.createToken(ada, { device: 'phone' })).token.key;
      const laptop = (await tokens.createToken(ada, { device: 'laptop' })).token.key;
      const logout = await call(`${app.url}/logout`, { method: 'POST', token: phone });
      assert.equal(logout.status, 204);
      const reused = await call(`${app.url}/me`, { token: phone });
      assert.equal(reused.status, 401);
      assert.equal(reused.challenge, INVALID_TOKEN);
      assert.equal((await call(`${app.url}/me`, { token: laptop })).status, 200);
    });

    for (const [name, run] of options.whileUp ?? []) it(name, () => run(context()));

    it('answers a valid token with 503 and no challenge once Redis is down', async () => {
      const { token } = await tokens.createToken(ada);
      assert.equal((await call(`${app.url}/me`, { token: token.key })).status, 200);
      await shared.server.stop();
      const res = await call(`${app.url}/me`, { token: token.key });
      assert.equal(res.status, 503);
      assert.equal(res.challenge, null);
    });

    for (const [name, run] of options.whileDown ?? []) it(name, () => run(context()));
  });
}
