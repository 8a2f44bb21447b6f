import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { MultiTokenRepository, MultiTokenStoreError, RedisMultiTokenStrategy } from '../src/index.js';
import { call, listen, type RunningApp } from './support/http.js';
import { startRedisServer, uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const TIMEOUT_MS = 400;
// What the deadline may overrun by: one tick of the shared timer plus a loaded machine.
const SLACK_MS = 400;

function errorHandler(err: Error & { statusCode?: number; code?: string }, _req: Request, res: Response, _next: NextFunction): void {
  res.status(err.statusCode ?? 500).json({ code: err.code });
}

describe('when Redis is in trouble', () => {
  // A server of the spec's own: the specs freeze and stop it.
  const shared = sharedRedis({ own: true });
  let tokens: MultiTokenRepository;
  let app: RunningApp;
  shared.before(async () => {
    tokens = new MultiTokenRepository({ redis: shared.client, keyPrefix: uniquePrefix('faults'), timeout: TIMEOUT_MS });
    const web = express();
    web.get('/me', passport.authenticate(new RedisMultiTokenStrategy({ repository: tokens })), (req, res) => res.json(req.user));
    web.use(errorHandler);
    app = await listen(web);
  });
  shared.after(() => app.close());

  it('answers a valid token with 503 while Redis is frozen, within the timeout, and recovers after', async () => {
    const { key } = (await tokens.createToken({ id: '1' })).token;
    assert.equal((await call(`${app.url}/me`, { token: key })).status, 200);

    shared.server.freeze();
    try {
      const started = Date.now();
      const answers = await Promise.all([1, 2, 3].map(() => call(`${app.url}/me`, { token: key })));
      const elapsed = Date.now() - started;
      for (const res of answers) {
        assert.equal(res.status, 503);
        assert.deepEqual(JSON.parse(res.body), { code: 'ERR_MULTITOKEN_TIMEOUT' });
      }
      assert.ok(elapsed < TIMEOUT_MS + SLACK_MS, `answered after ${elapsed} ms`);
      assert.ok(elapsed >= TIMEOUT_MS - 20, `answered after ${elapsed} ms, before the deadline`);
    } finally {
      shared.server.thaw();
    }
    assert.equal((await call(`${app.url}/me`, { token: key })).status, 200);
  });

  it('answers a valid token with 503, never 401 or 200, once Redis is stopped', async () => {
    const { key } = (await tokens.createToken({ id: '2' })).token;
    assert.equal((await call(`${app.url}/me`, { token: key })).status, 200);
    await shared.server.stop();
    for (let i = 0; i < 3; i++) {
      const res = await call(`${app.url}/me`, { token: key });
      assert.equal(res.status, 503);
    }
    await assert.rejects(tokens.createToken({ id: '2' }), MultiTokenStoreError);
    await assert.rejects(tokens.expireAllTokens({ id: '2' }), MultiTokenStoreError);
    await shared.server.restart();
  });
});

describe('a repository whose Redis never came up', () => {
  it('rejects with a store error instead of hanging or answering null', async () => {
    const server = await startRedisServer();
    const url = server.url;
    await server.stop();
    const tokens = new MultiTokenRepository({ redis: url, timeout: TIMEOUT_MS });
    const { key } = { key: 'rmt_' + '0'.repeat(60) };
    try {
      await assert.rejects(tokens.createToken({ id: '1' }), { name: 'MultiTokenStoreError' });
      // A malformed token is still refused without I/O, Redis or not.
      assert.equal(await tokens.authenticate(key), null);
    } finally {
      await tokens.close();
    }
  });
});

describe('a script whose Redis is down', () => {
  it('gets a store error, closes, and exits 0, with nothing else keeping the process alive', async () => {
    // In its own process, so the only things alive are the repository's own: a deadline that
    // let the process exit under a pending call (exit code 13) would show here.
    const source = `import { MultiTokenRepository } from './src/index.ts';
      const tokens = new MultiTokenRepository({ redis: 'redis://127.0.0.1:1', timeout: ${TIMEOUT_MS} });
      try { await tokens.createToken({ id: '1' }); } catch (err) { console.log(err.code); }
      await tokens.close();
      console.log('closed');`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
      cwd: new URL('..', import.meta.url),
    });
    assert.equal(stdout, 'ERR_MULTITOKEN_TIMEOUT\nclosed\n');
  });
});
