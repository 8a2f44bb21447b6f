// The connection a repository opens itself, from a URL or REDIS_URL: opened on first use,
// reconnected with a capped backoff, closed by close() (a client passed in is left to its
// owner), and checked once for an eviction policy that could drop tokens.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { MultiTokenRepository } from '../src/index.js';
import { startRedisServer, uniquePrefix } from './support/redis-server.js';
import { connectTo, sharedRedis } from './support/shared-redis.js';
import { until } from './support/until.js';

interface User {
  id: string;
}

const shared = sharedRedis();

describe('a connection the repository opened itself', () => {
  it('opens a connection from a URL and closes it', async () => {
    const tokens = new MultiTokenRepository({ redis: shared.server.url, keyPrefix: uniquePrefix('url') });
    const { token } = await tokens.createToken({ id: 'u1' });
    assert.deepEqual((await tokens.authenticate(token.key))?.user, { id: 'u1' });
    await tokens.close();
    await assert.rejects(tokens.authenticate(token.key), { code: 'ERR_MULTITOKEN_STORE' });
  });

  it('refuses a REDIS_URL that is not a Redis URL, naming it', async () => {
    const saved = process.env.REDIS_URL;
    process.env.REDIS_URL = 'http://127.0.0.1:6379';
    try {
      const tokens = new MultiTokenRepository({ keyPrefix: uniquePrefix('env') });
      await assert.rejects(tokens.createToken({ id: '1' }), /^TypeError: REDIS_URL/);
    } finally {
      if (saved === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = saved;
    }
  });

  it('serves again within a second of a restarted Redis accepting connections', async () => {
    const server = await startRedisServer();
    const tokens = new MultiTokenRepository<User>({ redis: server.url, keyPrefix: uniquePrefix('reconnect'), timeout: 300 });
    try {
      const { token } = await tokens.createToken({ id: 'ada' });
      await server.stop();
      // Long enough for the backoff to reach its cap.
      for (let i = 0; i < 6; i++) {
        await assert.rejects(tokens.authenticate(token.key), { name: 'MultiTokenStoreError' });
        await sleep(250);
      }
      await server.restart();
      const back = performance.now();
      await until('the repository to serve again', async () => (await tokens.authenticate(token.key)) === null, 5000);
      const elapsed = performance.now() - back;
      assert.ok(elapsed < 1000, `first success ${Math.round(elapsed)} ms after the server was back`);
    } finally {
      await tokens.close();
      await server.stop();
    }
  });
});

describe('a client the repository was given', () => {
  it('leaves a client it was given open on close', async () => {
    const tokens = new MultiTokenRepository({ redis: shared.client, keyPrefix: uniquePrefix('given') });
    await tokens.createToken({ id: 'u1' });
    await tokens.close();
    assert.equal(shared.client.isOpen, true);
  });
});

describe('eviction is loud', () => {
  it('warns once under allkeys-lru, and never under noeviction', async () => {
    const warnings: Error[] = [];
    const listener = (warning: Error): void => {
      if ((warning as Error & { code?: string }).code === 'MULTITOKEN_EVICTION_POLICY') warnings.push(warning);
    };
    process.on('warning', listener);
    const quiet = await startRedisServer(['--maxmemory-policy', 'noeviction']);
    const loud = await startRedisServer(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    const clients = [await connectTo(quiet), await connectTo(loud)];
    try {
      const calm = new MultiTokenRepository<User>({ redis: clients[0]!, keyPrefix: uniquePrefix('policy') });
      await calm.createToken({ id: 'ada' });
      await sleep(100);
      assert.equal(warnings.length, 0, 'a warning under noeviction');
      for (let i = 0; i < 3; i++) {
        const tokens = new MultiTokenRepository<User>({ redis: clients[1]!, keyPrefix: uniquePrefix('policy') });
        const { token } = await tokens.createToken({ id: 'ada' });
        await tokens.authenticate(token.key);
      }
      await until('the warning', async () => warnings.length > 0, 2000);
      await sleep(100);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.message, /allkeys-lru/);
    } finally {
      process.off('warning', listener);
      for (const client of clients) client.destroy();
      await quiet.stop();
      await loud.stop();
    }
  });
});
