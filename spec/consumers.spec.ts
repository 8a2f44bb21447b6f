// The built package, loaded the way consumers load it: `require` from CommonJS and `import`
// from an ES module, by its package name. `npm test` builds dist/ before the specs run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const run = promisify(execFile);
before(() => {
  assert.ok(existsSync(new URL('../dist/cjs/index.js', import.meta.url)), 'dist/ is missing: run npm run build first');
});

const shared = sharedRedis();

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
    env: { ...process.env, URL: shared.server.url, PREFIX: prefix },
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

// What a process has loaded from node_modules, by package name. Every framework package
// concerned here is CommonJS, so an import of one lands in the CommonJS cache as well.
const loadedPackages = String.raw`
  const loaded = new Set();
  for (const file of Object.keys(require.cache)) {
    const parts = file.split(/[\\/]node_modules[\\/]/);
    if (parts.length < 2) continue;
    const [scope, name] = parts.at(-1).split(/[\\/]/);
    loaded.add(scope.startsWith('@') ? scope + '/' + name : scope);
  }
  const frameworks = [...loaded].filter((name) => /^(@nestjs\/|@fastify\/|fastify$|koa|express)/.test(name)).sort();
`;

describe('one process that both imports and requires the package', () => {
  it('holds one MultiToken, one strategy class and one set of error classes', async () => {
    const source = `import { createRequire } from 'node:module';
      import * as esm from 'passport-redis-multi-token';
      import * as esmNest from 'passport-redis-multi-token/nest';
      import * as esmFastify from 'passport-redis-multi-token/fastify';
      const require = createRequire(import.meta.url);
      const cjs = require('passport-redis-multi-token');
      const cjsNest = require('passport-redis-multi-token/nest');
      const cjsFastify = require('passport-redis-multi-token/fastify');
      const fromEsm = new esm.MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'x');
      const fromCjs = new cjs.MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'x');
      console.log(JSON.stringify({
        multiToken: esm.MultiToken === cjs.MultiToken,
        strategy: esm.RedisMultiTokenStrategy === cjs.RedisMultiTokenStrategy,
        esmErrorIsCjsClass: fromEsm instanceof cjs.MultiTokenStoreError && fromEsm instanceof cjs.MultiTokenError,
        cjsErrorIsEsmClass: fromCjs instanceof esm.MultiTokenStoreError && fromCjs instanceof esm.MultiTokenError,
        guard: esmNest.RedisMultiTokenGuard() === cjsNest.RedisMultiTokenGuard(),
        fastify: esmFastify.bearerChallenges === cjsFastify.bearerChallenges,
      }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], { cwd: new URL('..', import.meta.url) });
    assert.deepEqual(JSON.parse(stdout), {
      multiToken: true,
      strategy: true,
      esmErrorIsCjsClass: true,
      cjsErrorIsEsmClass: true,
      guard: true,
      fastify: true,
    });
  });
});

describe('the main entry', () => {
  async function frameworksLoadedBy(statement: string, type: 'commonjs' | 'module'): Promise<string[]> {
    const source =
      type === 'module'
        ? `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${statement}; ${loadedPackages} console.log(JSON.stringify(frameworks));`
        : `${statement}; ${loadedPackages} console.log(JSON.stringify(frameworks));`;
    const { stdout } = await run(process.execPath, [`--input-type=${type}`, '-e', source], { cwd: new URL('..', import.meta.url) });
    return JSON.parse(stdout) as string[];
  }

  it('loads no NestJS, Fastify, Koa or Express package, from require or import', async () => {
    assert.deepEqual(await frameworksLoadedBy("require('passport-redis-multi-token')", 'commonjs'), []);
    assert.deepEqual(await frameworksLoadedBy("await import('passport-redis-multi-token')", 'module'), []);
  });

  it('is told apart from the Nest entry, which does load NestJS', async () => {
    const loaded = await frameworksLoadedBy("require('passport-redis-multi-token/nest')", 'commonjs');
    assert.ok(loaded.includes('@nestjs/passport') && loaded.includes('@nestjs/core'), JSON.stringify(loaded));
  });
});
