// The built package, loaded the way consumers load it: `require` from CommonJS and `import`
// from an ES module, by its package name. `npm test` builds dist/ before the specs run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { uniquePrefix, useRedis, type RedisServer } from './support/redis-server.js';

const run = promisify(execFile);
let server: RedisServer;

before(async () => {
  assert.ok(existsSync(new URL('../dist/cjs/index.js', import.meta.url)), 'dist/ is missing: run npm run build first');
  server = await useRedis();
});

after(async () => {
  await server.stop();
});

const body = `
  const repo = new MultiTokenRepository({ redis: process.env.URL, keyPrefix: process.env.PREFIX });
  const strategy = new RedisMultiTokenStrategy({ repository: repo });
  const { token, first } = await repo.createToken({ id: 'u1' });
  const found = await repo.authenticate(token.key);
  const removed = await repo.expireAllTokens({ id: 'u1' });
  await repo.close();
  console.log(JSON.stringify({ name: strategy.name, first, user: found.user, removed, store: new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'x').statusCode }));
`;

async function runScript(args: string[], prefix: string): Promise<unknown> {
  const { stdout } = await run(process.execPath, args, {
    cwd: new URL('..', import.meta.url),
    env: { ...process.env, URL: server.url, PREFIX: prefix },
  });
  return JSON.parse(stdout) as unknown;
}

const expected = { name: 'redis-multi-token', first: true, user: { id: 'u1' }, removed: 1, store: 503 };

describe('the built package', () => {
  it('works from CommonJS with require()', async () => {
    const source = `const { MultiTokenRepository, RedisMultiTokenStrategy, MultiTokenStoreError } = require('passport-redis-multi-token');
      (async () => {${body}})().catch((err) => { console.error(err); process.exit(1); });`;
    assert.deepEqual(await runScript(['--input-type=commonjs', '-e', source], uniquePrefix('cjs')), expected);
  });

  it('works from an ES module with import', async () => {
    const source = `import { MultiTokenRepository, RedisMultiTokenStrategy, MultiTokenStoreError } from 'passport-redis-multi-token';
      ${body}`;
    assert.deepEqual(await runScript(['--input-type=module', '-e', source], uniquePrefix('esm')), expected);
  });
});
