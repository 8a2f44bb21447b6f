// Writes that wait (`replicas`) never get stuck: they follow a Cluster through a failover and a
// slot move, never take a connection a verification needs, leave no token nobody holds when the
// wait fails, follow the client's current database, and never keep a process alive after
// close(). All on real servers: a 3-master cluster with replicas, a master with a replica.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { Redis as Redis5 } from 'ioredis5';
import { createClient, createClientPool, createCluster, type RedisClientType, type RedisClusterType } from 'redis';
import { MultiTokenError, MultiTokenRepository, type TokenExpiredEvent } from '../src/index.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { startRedisServer, uniquePrefix, type RedisServer } from './support/redis-server.js';
import { until } from './support/until.js';

interface User {
  id: string;
}


async function admin(url: string): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function replicaOf(master: RedisServer): Promise<RedisServer> {
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const watch = await admin(replica.url);
  await until('the replica to sync', async () => /master_link_status:up/.test(await watch.info('replication')));
  watch.destroy();
  return replica;
}

interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  masterId: string;
}

/** Every node of the cluster as it sees itself now (ROLE, CLUSTER MYID): no gossip lag. */
async function topology(nodes: readonly RedisServer[], adminOf: (port: number) => RedisClientType): Promise<ClusterNode[]> {
  const seen = await Promise.all(
    nodes.map(async (node) => {
      const client = adminOf(node.port);
      const [id, role] = await Promise.all([client.sendCommand<string>(['CLUSTER', 'MYID']), client.sendCommand<unknown[]>(['ROLE'])]);
      return { id, port: node.port, master: role[0] === 'master', masterPort: role[0] === 'master' ? 0 : Number(role[2]) };
    }),
  );
  return seen.map((node) => ({ id: node.id, port: node.port, master: node.master, masterId: seen.find((m) => m.port === node.masterPort)?.id ?? '-' }));
}

function isStoreError(err: unknown): boolean {
  return err instanceof MultiTokenError && (err.code === 'ERR_MULTITOKEN_REPLICAS' || err.code === 'ERR_MULTITOKEN_TIMEOUT');
}

describe('replicas on a 3-master cluster with a replica each', () => {
  let cluster: RedisCluster;
  const admins = new Map<number, RedisClientType>();
  const adminOf = (port: number): RedisClientType => admins.get(port)!;

  before(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 1 });
    for (const node of cluster.nodes) admins.set(node.port, await admin(node.url));
    await until('every replica to sync', async () => {
      const infos = await Promise.all([...admins.values()].map((a) => a.info('replication')));
      return infos.filter((info) => /master_link_status:up/.test(info)).length === 3;
    });
  });
  after(async () => {
    for (const client of admins.values()) client.destroy();
    await cluster.stop();
  });

  /** The master that holds `key` now, and its replica. */
  async function shardOf(key: string): Promise<{ master: ClusterNode; replica: ClusterNode; others: ClusterNode[] }> {
    const nodes = await topology(cluster.nodes, adminOf);
    for (const node of nodes.filter((n) => n.master)) {
      // A master that does not own the key's slot answers MOVED.
      const held = await adminOf(node.port).exists(key).catch(() => 0);
      if (held === 1) {
        return { master: node, replica: nodes.find((n) => n.masterId === node.id)!, others: nodes.filter((n) => n.master && n.id !== node.id) };
      }
    }
    throw new Error(`no master holds ${key}`);
  }

  async function keyOf(prefix: string): Promise<string> {
    for (const client of admins.values()) {
      const role = await client.sendCommand<unknown[]>(['ROLE']);
      if (role[0] !== 'master') continue;
      for await (const batch of client.scanIterator({ MATCH: `${prefix}*` })) if (batch.length > 0) return batch[0]!;
    }
    throw new Error(`no key under ${prefix}`);
  }

  async function repository(timeout = 2000): Promise<{ tokens: MultiTokenRepository<User>; prefix: string; client: RedisClusterType; close: () => Promise<void> }> {
    const client: RedisClusterType = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    client.on('error', () => {});
    await client.connect();
    const prefix = uniquePrefix('cluster-replicas');
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: prefix, replicas: 1, timeout });
    return {
      tokens,
      prefix,
      client,
      async close() {
        await tokens.close();
        client.destroy();
      },
    };
  }

  it('logs out after CLUSTER FAILOVER of the user’s shard: every logout succeeds and the token is refused', async () => {
    const { tokens, prefix, close } = await repository();
    try {
      const user = { id: 'failover' };
      const [a, b, c] = [await tokens.createToken(user), await tokens.createToken(user), await tokens.createToken(user)];
      const { master, replica } = await shardOf(await keyOf(prefix));
      await adminOf(replica.port).sendCommand(['CLUSTER', 'FAILOVER']);
      await until('the replica to take over', async () => (await adminOf(replica.port).sendCommand<unknown[]>(['ROLE']))[0] === 'master');
      await until('the old master to follow it', async () => /master_link_status:up/.test(await adminOf(master.port).info('replication')));
      assert.equal(await tokens.expireToken(a.token.key), true);
      assert.equal(await tokens.authenticate(a.token.key), null);
      assert.equal(await tokens.expireOtherTokens(user, b.token), 1);
      assert.equal(await tokens.authenticate(c.token.key), null);
      const d = await tokens.createToken(user);
      assert.equal(await tokens.expireAllTokens(user), 2);
      assert.equal(await tokens.authenticate(b.token.key), null);
      assert.equal(await tokens.authenticate(d.token.key), null);
    } finally {
      await close();
    }
  });

  it('logs out while a slot moves with MIGRATE (ASK) and after it moved (MOVED): every logout succeeds and the token is refused', async () => {
    const { tokens, prefix, close } = await repository();
    try {
      const user = { id: 'migrate' };
      const made = [];
      for (let i = 0; i < 5; i++) made.push((await tokens.createToken(user)).token);
      const key = await keyOf(prefix);
      const { master: source, others } = await shardOf(key);
      const target = others[0]!;
      const slot = String(await adminOf(source.port).sendCommand<number>(['CLUSTER', 'KEYSLOT', key]));
      await adminOf(target.port).sendCommand(['CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id]);
      await adminOf(source.port).sendCommand(['CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id]);
      await adminOf(source.port).sendCommand(['MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', key]);
      // The key is on the target; the slot is still the source's: writes there answer ASK.
      assert.equal(await tokens.expireToken(made[0]!.key), true, 'a logout during the move');
      assert.equal(await tokens.authenticate(made[0]!.key), null);
      for (const node of cluster.nodes) await adminOf(node.port).sendCommand(['CLUSTER', 'SETSLOT', slot, 'NODE', target.id]).catch(() => {});
      // The slot is the target's now: the old owner answers MOVED.
      assert.equal(await tokens.expireToken(made[1]!.key), true, 'a logout after the move');
      assert.equal(await tokens.authenticate(made[1]!.key), null);
      assert.equal(await tokens.expireTokenById(user, made[2]!.id), true);
      const fresh = await tokens.createToken(user);
      assert.equal((await shardOf(key)).master.id, target.id, 'the hash lives on the target');
      assert.equal(await tokens.expireAllTokens(user), 3);
      for (const token of [...made, fresh.token]) assert.equal(await tokens.authenticate(token.key), null);
    } finally {
      await close();
    }
  });

  it('writes for a user on a healthy shard while another master is frozen', async () => {
    const { tokens, prefix, client, close } = await repository(1500);
    try {
      const user = { id: 'healthy' };
      const first = await tokens.createToken(user);
      const { others } = await shardOf(await keyOf(prefix));
      // A fresh repository: its write connection opens while the other master answers nothing.
      const again = new MultiTokenRepository<User>({ redis: client, keyPrefix: prefix, replicas: 1, timeout: 1500 });
      const frozen = cluster.nodes.find((node) => node.port === others[0]!.port)!;
      frozen.freeze();
      try {
        assert.equal(await again.expireToken(first.token.key), true);
        assert.equal((await again.createToken(user)).first, true);
      } finally {
        frozen.thaw();
        await again.close();
      }
    } finally {
      await close();
    }
  });
});

describe('replicas on a master with one replica', () => {
  let master: RedisServer;
  let replica: RedisServer;
  before(async () => {
    master = await startRedisServer();
    replica = await replicaOf(master);
  });
  after(async () => {
    replica.thaw();
    await replica.stop();
    await master.stop();
  });

  it('answers verifications of valid tokens while a pool at its maximum has logouts waiting on a stopped replica', async () => {
    const pool = createClientPool({ url: master.url }, { minimum: 1, maximum: 2 });
    pool.on('error', () => {});
    await pool.connect();
    const tokens = new MultiTokenRepository<User>({ redis: pool, keyPrefix: uniquePrefix('pool'), replicas: 1, timeout: 1000 });
    try {
      const valid = (await tokens.createToken({ id: 'stays' })).token;
      const leaving = [];
      for (let i = 0; i < 8; i++) leaving.push((await tokens.createToken({ id: `leaves-${i}` })).token);
      replica.freeze();
      // One write connection: the logouts queue behind each other's WAIT, and answer 503 by the deadline.
      const logouts = leaving.map((token) => tokens.expireToken(token.key).then(() => 'acknowledged', (err: unknown) => (isStoreError(err) ? 'refused' : err)));
      await sleep(50);
      const verified = await Promise.all(Array.from({ length: 8 }, () => tokens.authenticate(valid.key)));
      assert.deepEqual(verified.map((found) => found?.user.id), Array(8).fill('stays'), 'every verification accepted the valid token');
      assert.deepEqual(await Promise.all(logouts), Array(8).fill('refused'), 'no logout was acknowledged without the replica');
      replica.thaw();
      for (const token of leaving) assert.equal(await tokens.authenticate(token.key), null, 'each logout was applied: retrying is safe');
    } finally {
      replica.thaw();
      await tokens.close();
      await pool.close();
    }
  });

  it('evicts no real device when logins at the cap fail their WAIT, and lists only tokens handed out', async () => {
    const client = await admin(master.url);
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('cap'), replicas: 1, timeout: 600, maxTokensPerUser: 3 });
    const evicted: TokenExpiredEvent[] = [];
    tokens.on('expired', (event) => evicted.push(event));
    const user = { id: 'capped' };
    try {
      const phone = (await tokens.createToken(user, { device: 'phone' })).token;
      const laptop = (await tokens.createToken(user, { device: 'laptop' })).token;
      replica.freeze();
      for (let i = 0; i < 3; i++) {
        await assert.rejects(tokens.createToken(user, { device: 'tablet' }), { code: 'ERR_MULTITOKEN_REPLICAS' });
      }
      // Retrying is safe: nothing was handed out, nothing evicted.
      assert.deepEqual((await tokens.listTokens(user)).map((t) => t.device).sort(), ['laptop', 'phone']);
      assert.equal((await tokens.authenticate(phone.key))?.token.device, 'phone');
      assert.equal((await tokens.authenticate(laptop.key))?.token.device, 'laptop');
      assert.deepEqual(evicted, []);
      replica.thaw();
      await until('the replica to catch up', async () => (await client.sendCommand<number>(['WAIT', '1', '200'])) === 1);
      const tablet = (await tokens.createToken(user, { device: 'tablet' })).token;
      assert.deepEqual((await tokens.listTokens(user)).map((t) => t.device).sort(), ['laptop', 'phone', 'tablet']);
      assert.equal(tablet.expiresAt?.getTime(), tablet.createdAt.getTime() + 14 * 86_400_000, 'the confirmed token has its full lifetime');
      // Over the cap, a confirmed login evicts the oldest device, as without replicas.
      await tokens.createToken(user, { device: 'watch' });
      assert.deepEqual((evicted as TokenExpiredEvent[]).map((e) => e.ids), [[phone.id]]);
      assert.equal(await tokens.authenticate(phone.key), null);
    } finally {
      replica.thaw();
      await tokens.close();
      client.destroy();
    }
  });

  it('writes on the database the client selected at run time', async () => {
    const client = await admin(master.url);
    await client.select(2);
    const prefix = uniquePrefix('select');
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: prefix, replicas: 1 });
    const db0 = await admin(master.url);
    try {
      const { token } = await tokens.createToken({ id: 'two' });
      assert.equal((await tokens.authenticate(token.key))?.user.id, 'two');
      assert.equal(await tokens.expireToken(token.key), true);
      assert.equal(await tokens.authenticate(token.key), null);
      await client.select(3);
      const other = (await tokens.createToken({ id: 'three' })).token;
      assert.equal((await tokens.authenticate(other.key))?.user.id, 'three');
      assert.deepEqual(await db0.keys(`${prefix}*`), [], 'nothing went to database 0');
    } finally {
      await tokens.close();
      client.destroy();
      db0.destroy();
    }
  });

  const ioClients: [string, (url: string) => Redis | Redis5][] = [
    ['ioredis 6', (url) => new Redis(url, { enableOfflineQueue: false })],
    ['ioredis 5', (url) => new Redis5(url, { enableOfflineQueue: false })],
  ];
  for (const [label, open] of ioClients) {
    it(`writes at once on an ${label} client without an offline queue`, async () => {
      const client = open(master.url);
      client.on('error', () => {});
      await until('ioredis to be ready', async () => client.status === 'ready');
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('offline'), replicas: 1 });
      try {
        const { token } = await tokens.createToken({ id: 'io' });
        assert.equal(await tokens.expireToken(token.key), true);
        assert.equal(await tokens.authenticate(token.key), null);
      } finally {
        await tokens.close();
        client.disconnect();
      }
    });
  }
});

describe('a process that used replicas', () => {
  /** Runs `body` in a process of its own; resolves with its output once it exits 0 by itself. */
  async function exits(body: string): Promise<string> {
    const source = `import { MultiTokenRepository } from './src/index.ts';\n${body}`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {
      cwd: new URL('..', import.meta.url),
      timeout: 15_000,
    });
    return stdout;
  }

  it('exits after close() during an outage', async () => {
    const down = await startRedisServer();
    await down.stop();
    const out = await exits(`
      const tokens = new MultiTokenRepository({ redis: '${down.url}', replicas: 1, timeout: 300 });
      await tokens.createToken({ id: '1' }).catch((err) => console.log(err.code));
      await tokens.close();
      console.log('closed');`);
    assert.equal(out, 'ERR_MULTITOKEN_TIMEOUT\nclosed\n');
  });

  it('exits after close() in the middle of a replicated write, which does not succeed after it', async () => {
    const server = await startRedisServer();
    const prefix = uniquePrefix('mid-write');
    try {
      for (const delay of [0, 150]) {
        const out = await exits(`
          const tokens = new MultiTokenRepository({ redis: '${server.url}', keyPrefix: '${prefix}', replicas: 1, timeout: 2000 });
          await tokens.listTokens({ id: 'warm' });
          const creating = tokens.createToken({ id: 'late' }).then(() => 'created', (err) => err.code);
          await new Promise((resolve) => setTimeout(resolve, ${delay}));
          await tokens.close();
          console.log('closed');
          console.log(await creating);`);
        assert.equal(out, 'closed\nERR_MULTITOKEN_STORE\n', `close() after ${delay} ms`);
      }
    } finally {
      await server.stop();
    }
  });
});
