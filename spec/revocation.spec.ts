// Revocation is final, on real servers: through a failover (revocations wait for replicas,
// reads go to the master), and through a client-side cache (a bounded revocation window).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { createClient, createClientPool, createSentinel } from 'redis';
import { MultiTokenError, MultiTokenRepository } from '../src/index.js';
import { startRedisSentinel, startRedisServer, uniquePrefix, type RedisServer } from './support/redis-server.js';
import { connectTo, sharedRedis } from './support/shared-redis.js';
import { until } from './support/until.js';

interface User {
  id: string;
}

async function replicaOf(master: RedisServer): Promise<{ replica: RedisServer; close(): Promise<void> }> {
  const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
  const watch = await connectTo(replica);
  await until('the replica to sync', async () => /master_link_status:up/.test(await watch.info('replication')));
  watch.destroy();
  return { replica, close: () => replica.stop() };
}

describe('replicas: revocations wait until replicas hold them', () => {
  it('keeps revoked tokens revoked after the master is killed and the replica promoted (Sentinel)', async () => {
    const master = await startRedisServer();
    const { replica } = await replicaOf(master);
    const sentinel = await startRedisSentinel(master, { fast: true });
    const watcher = await connectTo(sentinel);
    await until('the sentinel to know the replica', async () => {
      const replicas = await watcher.sendCommand<unknown[]>(['SENTINEL', 'REPLICAS', 'mymaster']);
      return replicas.length === 1;
    });
    const client = createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.port }] });
    client.on('error', () => {});
    await client.connect();
    const closers: (() => Promise<void>)[] = [];
    try {
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('failover'), replicas: 1, timeout: 2000 });
      closers.push(() => tokens.close());
      const issued = [];
      for (let i = 0; i < 20; i++) issued.push((await tokens.createToken({ id: `user-${i % 4}` })).token);
      const revoked = issued.filter((_, i) => i % 2 === 0);
      const kept = issued.filter((_, i) => i % 2 === 1);
      for (const token of revoked) assert.equal(await tokens.expireToken(token.key), true);
      // The moment the last revocation is acknowledged, the master dies with whatever it had not sent.
      master.kill();

      await until('the promoted replica to answer through the sentinel client', async () => {
        return (await tokens.authenticate(kept[0]!.key)) !== null;
      });
      let back = 0;
      for (const token of revoked) if ((await tokens.authenticate(token.key)) !== null) back += 1;
      assert.equal(back, 0, `${back} of ${revoked.length} revoked tokens came back after the failover`);
      for (const token of kept) assert.notEqual(await tokens.authenticate(token.key), null, 'a kept token survives the failover');
    } finally {
      for (const close of closers) await close();
      void client.destroy();
      watcher.destroy();
      await sentinel.stop();
      await replica.stop();
      await master.stop();
    }
  });

  it('reads from the master even when the Sentinel client keeps a replica pool, so a lagging replica accepts nothing revoked', async () => {
    const master = await startRedisServer();
    const { replica } = await replicaOf(master);
    const sentinel = await startRedisSentinel(master);
    const watcher = await connectTo(sentinel);
    await until('the sentinel to know the replica', async () => {
      const replicas = await watcher.sendCommand<unknown[]>(['SENTINEL', 'REPLICAS', 'mymaster']);
      return replicas.length === 1;
    });
    const client = createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel.port }], replicaPoolSize: 1 });
    client.on('error', () => {});
    await client.connect();
    try {
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('replica-reads'), timeout: 1000 });
      const revoked = (await tokens.createToken({ id: 'ada' })).token;
      const kept = (await tokens.createToken({ id: 'ada' })).token;
      // The replica falls behind: frozen, it holds neither the revocation nor anything after.
      replica.freeze();
      assert.equal(await tokens.expireToken(revoked.key), true);
      for (let i = 0; i < 5; i++) {
        assert.equal(await tokens.authenticate(revoked.key), null, 'a revoked token passed');
        assert.equal((await tokens.authenticate(kept.key))?.user.id, 'ada');
      }
    } finally {
      replica.thaw();
      void client.destroy();
      watcher.destroy();
      await sentinel.stop();
      await replica.stop();
      await master.stop();
    }
  });

  for (const kind of ['client', 'pool', 'sentinel'] as const) {
    it(`rejects a revocation with ERR_MULTITOKEN_REPLICAS within the deadline when the replica is held, and verifications do not wait behind it (${kind})`, async () => {
      const master = await startRedisServer();
      const { replica } = await replicaOf(master);
      const sentinel = kind === 'sentinel' ? await startRedisSentinel(master) : undefined;
      const client =
        kind === 'client'
          ? createClient({ url: master.url })
          : kind === 'pool'
            ? createClientPool({ url: master.url }, { minimum: 2, maximum: 3 })
            : createSentinel({ name: 'mymaster', sentinelRootNodes: [{ host: '127.0.0.1', port: sentinel!.port }] });
      client.on('error', () => {});
      await client.connect();
      const timeout = 600;
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('held'), replicas: 1, timeout });
      try {
        const { token } = await tokens.createToken({ id: 'ada' });
        const other = (await tokens.createToken({ id: 'ada' })).token;
        replica.freeze();
        const started = performance.now();
        const revoking = tokens.expireToken(token.key);
        // While the revocation waits for the held replica, other verifications answer at once.
        await sleep(50);
        const verifiedAt = performance.now();
        assert.equal((await tokens.authenticate(other.key))?.user.id, 'ada');
        const verifyElapsed = performance.now() - verifiedAt;
        await assert.rejects(revoking, (err: unknown) => {
          assert.ok(err instanceof MultiTokenError);
          assert.equal(err.code, 'ERR_MULTITOKEN_REPLICAS');
          assert.equal((err as { statusCode?: number }).statusCode, 503);
          return true;
        });
        const elapsed = performance.now() - started;
        assert.ok(elapsed <= timeout + 100, `answered after ${Math.round(elapsed)} ms`);
        assert.ok(verifyElapsed < 300, `a verification waited ${Math.round(verifyElapsed)} ms behind the WAIT`);
        replica.thaw();
        // The master applied it; a retry once the replica is back is acknowledged.
        await until('the replica to catch up', async () => !(await tokens.expireToken(token.key)));
      } finally {
        replica.thaw();
        await tokens.close();
        void client.destroy();
        await sentinel?.stop();
        await replica.stop();
        await master.stop();
      }
    });
  }
});

describe('client-side caching: a bounded revocation window', () => {
  const shared = sharedRedis({ own: true });

  it('honours a revocation made by another process within cacheFence', async () => {
    const prefix = uniquePrefix('fence');
    const cached = createClient({ url: shared.server.url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 1000 } });
    await cached.connect();
    try {
      const bound = 100;
      const tokens = new MultiTokenRepository<User>({ redis: cached, keyPrefix: prefix, cacheFence: bound, touchInterval: 3600 });
      const { token } = await tokens.createToken({ id: 'ada' });
      // Warm the cache, then keep verifying while another process revokes.
      assert.notEqual(await tokens.authenticate(token.key), null);
      const source = `import { MultiTokenRepository } from './src/index.ts';
        const tokens = new MultiTokenRepository({ redis: ${JSON.stringify(shared.server.url)}, keyPrefix: ${JSON.stringify(prefix)} });
        const ok = await tokens.expireToken(process.argv[1]);
        console.log(JSON.stringify({ ok, at: Date.now() }));
        await tokens.close();`;
      const revoking = promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source, token.key], {
        cwd: new URL('..', import.meta.url),
      });
      let lastSuccess = 0;
      let done = false;
      void revoking.finally(() => (done = true));
      while (!done) {
        if ((await tokens.authenticate(token.key)) !== null) lastSuccess = Date.now();
        await sleep(2);
      }
      const { ok, at } = JSON.parse((await revoking).stdout) as { ok: boolean; at: number };
      assert.equal(ok, true);
      // One more round after the bound: the revocation must be seen by now.
      await sleep(bound + 20);
      assert.equal(await tokens.authenticate(token.key), null);
      assert.ok(lastSuccess <= at + bound, `accepted ${lastSuccess - at} ms after the revocation was acknowledged`);
    } finally {
      cached.destroy();
    }
  });

  it('gives no cached success once the caching connection has been silent for longer than cacheFence', async () => {
    const own = await startRedisServer();
    const cached = createClient({ url: own.url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 1000 } });
    cached.on('error', () => {});
    await cached.connect();
    try {
      const bound = 100;
      const tokens = new MultiTokenRepository<User>({ redis: cached, keyPrefix: uniquePrefix('frozen'), cacheFence: bound, timeout: 400, touchInterval: 3600 });
      const { token } = await tokens.createToken({ id: 'ada' });
      assert.notEqual(await tokens.authenticate(token.key), null);
      own.freeze();
      const frozenAt = performance.now();
      const outcomes: { at: number; ok: boolean; code?: string }[] = [];
      while (performance.now() - frozenAt < 800) {
        try {
          const found = await tokens.authenticate(token.key);
          outcomes.push({ at: performance.now() - frozenAt, ok: found !== null });
        } catch (err) {
          outcomes.push({ at: performance.now() - frozenAt, ok: false, code: (err as MultiTokenError).code });
        }
        await sleep(5);
      }
      const lateSuccess = outcomes.filter((o) => o.ok && o.at > bound);
      assert.deepEqual(lateSuccess, [], 'a cached success came after the bound');
      assert.ok(outcomes.some((o) => o.code === 'ERR_MULTITOKEN_TIMEOUT'), 'the silent connection ends in a store error');
    } finally {
      own.thaw();
      cached.destroy();
      await own.stop();
    }
  });

  it('refuses a caching pool or Sentinel client, which it cannot fence, with a TypeError naming redis', () => {
    const pool = createClientPool({ url: shared.server.url, RESP: 3 }, { clientSideCache: { ttl: 0, maxEntries: 10 } });
    assert.throws(() => new MultiTokenRepository({ redis: pool }), /^TypeError: redis: .*cacheFence: null/);
    assert.doesNotThrow(() => new MultiTokenRepository({ redis: pool, cacheFence: null }));
    const sentinel = createSentinel({
      name: 'mymaster',
      sentinelRootNodes: [{ host: '127.0.0.1', port: shared.server.port }],
      RESP: 3,
      clientSideCache: { ttl: 0, maxEntries: 10 },
    });
    assert.throws(() => new MultiTokenRepository({ redis: sentinel }), /^TypeError: redis: .*cacheFence: null/);
  });
});
