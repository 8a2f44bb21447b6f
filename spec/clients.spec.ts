// The repository over every kind of node-redis client it promises to take: node-redis 4.7,
// 5 and 6, a client pool, a 3-master cluster, and a client with client-side caching.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, createClientPool, createCluster, createSentinel, type RedisClientType } from 'redis';
import { createClient as createClient4 } from 'redis4';
import { createClient as createClient5 } from 'redis5';
import { MultiTokenRepository, type RedisClientLike } from '../src/index.js';
import { callsOf } from './support/commands.js';
import { exerciseLifecycle } from './support/lifecycle.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { startRedisSentinel, startRedisServer, uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

/** Runs the whole lifecycle for `count` users through `redis`. */
async function exercise(redis: RedisClientLike, count = 2): Promise<void> {
  await exerciseLifecycle(new MultiTokenRepository<User>({ redis, keyPrefix: uniquePrefix('client'), touchInterval: 0 }), count);
}

const shared = sharedRedis();

describe('node-redis versions', () => {
  it('works with a node-redis 4.7 client', async () => {
    const client = createClient4({ url: shared.server.url });
    await client.connect();
    try {
      await exercise(client);
    } finally {
      await client.quit();
    }
  });

  for (const RESP of [2, 3] as const) {
    it(`works with a node-redis 5 client over RESP${RESP}`, async () => {
      const client = createClient5({ url: shared.server.url, RESP });
      await client.connect();
      try {
        await exercise(client);
      } finally {
        client.destroy();
      }
    });
  }

  it('works with a node-redis 6 client pool', async () => {
    const pool = createClientPool({ url: shared.server.url }, { minimum: 2, maximum: 4 });
    await pool.connect();
    try {
      await exercise(pool);
    } finally {
      pool.destroy();
    }
  });
});

describe('Redis Cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  it('keeps each user on one slot and spreads users over every master', async () => {
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    const errors: unknown[] = [];
    client.on('error', (err) => errors.push(err));
    await client.connect();
    try {
      // Keep some tokens so the spread over the masters can be seen afterwards.
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('cluster') });
      for (let i = 0; i < 30; i++) await tokens.createToken({ id: `spread-${i}` });
      for (const node of cluster.nodes) {
        const admin = createClient({ url: node.url });
        await admin.connect();
        assert.ok((await admin.dbSize()) > 0, `no user landed on the master at port ${node.port}`);
        await admin.close();
      }
      await exercise(client, 12);
    } finally {
      await client.close();
    }
  });

  it('sends the WAIT of replicas to the master that took the write', async () => {
    const admins: RedisClientType[] = [];
    for (const node of cluster.nodes) {
      const admin: RedisClientType = createClient({ url: node.url });
      await admin.connect();
      await admin.flushAll();
      await admin.configResetStat();
      admins.push(admin);
    }
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    client.on('error', () => {});
    await client.connect();
    try {
      // This cluster has no replicas: every write is applied, and then reported as not replicated.
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('cluster-wait'), replicas: 1, timeout: 500 });
      try {
        for (let i = 0; i < 12; i++) {
          await assert.rejects(tokens.createToken({ id: `waiter-${i}` }), { code: 'ERR_MULTITOKEN_REPLICAS' });
        }
      } finally {
        await tokens.close();
      }
      // Each failed create ran its script, its WAIT and its undo on one node: nothing is left.
      let waits = 0;
      for (const admin of admins) {
        const waited = await callsOf(admin, 'wait');
        waits += waited;
        assert.equal(await callsOf(admin, 'evalsha'), 2 * waited, 'each WAIT went to the node that took the write');
        assert.equal(await admin.dbSize(), 0, 'a create whose WAIT failed leaves no token');
      }
      assert.equal(waits, 12);
    } finally {
      await client.close();
      for (const admin of admins) admin.destroy();
    }
  });
});

describe('Redis Sentinel', () => {
  it('works through a node-redis 6 sentinel client', async () => {
    const master = await startRedisServer();
    const sentinel = await startRedisSentinel(master);
    const client = createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.port }] });
    client.on('error', () => {});
    await client.connect();
    try {
      await exercise(client);
      await new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('sentinel') }).createToken({ id: 'kept' });
      const admin: RedisClientType = createClient({ url: master.url });
      await admin.connect();
      const size = await admin.dbSize();
      admin.destroy();
      assert.ok(size > 0, 'the tokens live on the master the sentinel named');
    } finally {
      await client.close();
      await sentinel.stop();
      await master.stop();
    }
  });
});

describe('client-side caching', () => {
  it('serves a repeated verification from the cache, and sees a revocation', async () => {
    const own = await startRedisServer();
    const admin: RedisClientType = createClient({ url: own.url });
    await admin.connect();
    const cached = createClient({ url: own.url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 1000 } });
    await cached.connect();
    try {
      const keyPrefix = uniquePrefix('cache');
      const tokens = new MultiTokenRepository<User>({ redis: cached, keyPrefix });
      const { token } = await tokens.createToken({ id: 'u1' });
      const other = (await tokens.createToken({ id: 'u1' })).token;
      assert.notEqual(await tokens.authenticate(token.key), null);

      await admin.configResetStat();
      for (let i = 0; i < 10; i++) assert.notEqual(await tokens.authenticate(token.key), null);
      assert.equal((await callsOf(admin, 'hget')) + (await callsOf(admin, 'hmget')), 0, 'repeated verifications reached Redis');

      // Revoked through another connection: Redis invalidates the cached record.
      const elsewhere = new MultiTokenRepository<User>({ redis: admin, keyPrefix });
      assert.equal(await elsewhere.expireToken(token.key), true);
      // The invalidation arrives on its own; cacheFence (100 ms) bounds how long it may take.
      // A loaded machine may delay this process too, so the poll allows a second.
      let seen: unknown = {};
      const revokedAt = performance.now();
      while (seen !== null && performance.now() - revokedAt < 1000) {
        seen = await tokens.authenticate(token.key);
        if (seen !== null) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.equal(seen, null, 'a revoked token still verified from the cache');
      // Revoked through the caching connection itself: seen at once.
      assert.equal(await tokens.expireToken(other.key), true);
      assert.equal(await tokens.authenticate(other.key), null);
    } finally {
      cached.destroy();
      await admin.close();
      await own.stop();
    }
  });
});
