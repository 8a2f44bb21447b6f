// The whole token lifecycle over ioredis 5 and 6 clients, standalone and cluster, with and
// without ioredis's own keyPrefix, on real servers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis5';
import { MultiTokenRepository, type IoRedisClientLike } from '../src/index.js';
import { generateToken, routingTag } from '../src/token.js';
import { exerciseLifecycle } from './support/lifecycle.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

/** Runs the whole lifecycle through `redis`, keeps one token; returns the package's key prefix. */
async function exercise(redis: IoRedisClientLike, count = 2): Promise<string> {
  const keyPrefix = uniquePrefix('ioredis');
  const tokens = new MultiTokenRepository<User>({ redis, keyPrefix, touchInterval: 0, idleTimeout: 3600 });
  await exerciseLifecycle(tokens, count);
  // Keep one token so the caller can see where the keys live.
  await tokens.createToken({ id: 'kept' });
  return keyPrefix;
}

type IoClient = IoRedisClientLike & { disconnect(): void };
interface Version {
  label: string;
  standalone: (url: string, options?: { keyPrefix?: string }) => IoClient;
  cluster: (nodes: { host: string; port: number }[], options: { keyPrefix?: string }) => IoClient;
}

const versions: Version[] = [
  { label: 'ioredis 6', standalone: (url, o = {}) => new Redis(url, o), cluster: (nodes, o) => new Cluster(nodes, o) },
  { label: 'ioredis 5', standalone: (url, o = {}) => new Redis5(url, o), cluster: (nodes, o) => new Cluster5(nodes, o) },
];

describe('ioredis', () => {
  const shared = sharedRedis();
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  for (const { label, standalone, cluster: clusterOf } of versions) {
    it(`runs the whole lifecycle on an ${label} client`, async () => {
      const client = standalone(shared.server.url);
      try {
        const keyPrefix = await exercise(client);
        assert.equal((await shared.keysUnder(keyPrefix)).length, 1);
      } finally {
        client.disconnect();
      }
    });

    it(`folds an ${label} keyPrefix into every key, logout-all included`, async () => {
      const ioPrefix = `${uniquePrefix('io')}app:`;
      const client = standalone(shared.server.url, { keyPrefix: ioPrefix });
      try {
        const keyPrefix = await exercise(client, 3);
        const keys = await shared.keysUnder(`${ioPrefix}${keyPrefix}`);
        assert.equal(keys.length, 1, 'the kept token lives under both prefixes');
        assert.deepEqual(await shared.keysUnder(keyPrefix), [], 'nothing escaped the ioredis prefix');
      } finally {
        client.disconnect();
      }
    });

    for (const ioPrefix of [undefined, 'tenant:'] as const) {
      it(`runs the whole lifecycle on an ${label} Cluster${ioPrefix === undefined ? '' : ' with a keyPrefix'}`, async () => {
        const client = clusterOf(
          cluster.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
          ioPrefix === undefined ? {} : { keyPrefix: ioPrefix },
        );
        try {
          await exercise(client, 8);
        } finally {
          client.disconnect();
        }
      });
    }
  }

  it('refuses an ioredis client that reads from replicas, with a TypeError naming redis', () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], { lazyConnect: true, scaleReads: 'slave' });
    const replica = new Redis(shared.server.url, { lazyConnect: true, role: 'slave' });
    try {
      assert.throws(() => new MultiTokenRepository({ redis: client }), /^TypeError: redis: .*replicas/);
      assert.throws(() => new MultiTokenRepository({ redis: replica }), /^TypeError: redis: .*replicas/);
      const master = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], { lazyConnect: true, scaleReads: 'master' });
      assert.doesNotThrow(() => new MultiTokenRepository({ redis: master }));
      master.disconnect();
    } finally {
      client.disconnect();
      replica.disconnect();
    }
  });

  it('refuses replicas on an ioredis Cluster with a TypeError naming replicas', () => {
    const client = new Cluster([{ host: '127.0.0.1', port: cluster.nodes[0]!.port }], { lazyConnect: true });
    try {
      assert.throws(() => new MultiTokenRepository({ redis: client, replicas: 1 }), /^TypeError: replicas/);
    } finally {
      client.disconnect();
    }
  });

  it('answers 503, never null, while an ioredis client cannot reach Redis', async () => {
    const client = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    client.on('error', () => {});
    try {
      const tokens = new MultiTokenRepository<User>({ redis: client, timeout: 300 });
      await assert.rejects(tokens.createToken({ id: 'ada' }), { name: 'MultiTokenStoreError' });
      await assert.rejects(tokens.authenticate(generateToken('rmt', routingTag('ada'))), { name: 'MultiTokenStoreError' });
    } finally {
      client.disconnect();
    }
  });
});
