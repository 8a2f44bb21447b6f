// Touching: a verification records its token's last use (lastUsedAt) at most once per
// touchInterval, within the verification's own deadline; and a touch that fails never fails
// a verification whose read succeeded, but is reported as a touchFailed event.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { MultiTokenRepository, type TokenTouchFailedEvent } from '../src/index.js';
import { callsOf } from './support/commands.js';
import { startRedisServer, uniquePrefix } from './support/redis-server.js';
import { connectTo } from './support/shared-redis.js';
import { until } from './support/until.js';

interface User {
  id: string;
}

const ada: User = { id: 'ada' };

describe('lastUsedAt', () => {
  it('is written a bounded number of times for a token used every 10 ms', async () => {
    const own = await startRedisServer();
    const client: RedisClientType = createClient({ url: own.url });
    await client.connect();
    try {
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('touch'), touchInterval: 0.2 });
      const { token } = await tokens.createToken(ada);
      await client.configResetStat();
      const started = Date.now();
      let last = token.lastUsedAt.getTime();
      while (Date.now() - started < 1000) {
        const found = await tokens.authenticate(token.key);
        assert.ok(found !== null);
        last = Math.max(last, found.token.lastUsedAt.getTime());
        await sleep(10);
      }
      const elapsed = Date.now() - started;
      const writes = await callsOf(client, 'hset');
      // One write per started interval at most; at least a few, so the count can fail both ways.
      assert.ok(writes <= Math.ceil(elapsed / 200) + 1, `${writes} writes in ${elapsed} ms`);
      assert.ok(writes >= 3, `${writes} writes in ${elapsed} ms`);
      assert.ok(last > token.lastUsedAt.getTime(), 'lastUsedAt moved');
      // Without idleTimeout a verification shows the use recorded before it, and its own touch
      // lands after it answered: the list shows that last write, never less.
      const [info] = await tokens.listTokens(ada);
      assert.ok(info!.lastUsedAt.getTime() >= last, 'the list shows the latest recorded use');
      assert.ok(info!.lastUsedAt.getTime() - last <= 200 + 500, 'by at most one touch interval and a slow loop turn more');
    } finally {
      await client.close();
      await own.stop();
    }
  });
});

describe('a touch that fails', () => {
  for (const idleTimeout of [null, 60] as const) {
    it(`never fails a verification whose read succeeded: memory full under noeviction (idleTimeout ${String(idleTimeout)})`, async () => {
      const server = await startRedisServer(['--maxmemory-policy', 'noeviction']);
      const client = await connectTo(server);
      try {
        const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('oom'), touchInterval: 0, idleTimeout });
        const failed: TokenTouchFailedEvent[] = [];
        tokens.on('touchFailed', (event) => failed.push(event));
        const issued = [];
        for (let i = 0; i < 5; i++) issued.push((await tokens.createToken({ id: `user-${i}` })).token);
        // Memory full: the limit set below what is in use, so every write is refused with OOM.
        const used = Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
        await client.configSet('maxmemory', String(used - 64 * 1024));
        await assert.rejects(client.set('filler', 'x'), /OOM/);
        await assert.rejects(tokens.createToken({ id: 'late' }), { name: 'MultiTokenStoreError' });
        for (const token of issued) {
          const found = await tokens.authenticate(token.key);
          assert.equal(found?.user.id, token.userId, 'a valid token is accepted while its touch cannot be written');
        }
        await until('every touch to be reported', async () => failed.length === issued.length, 3000);
        assert.deepEqual(failed.map((f) => f.id).sort(), issued.map((t) => t.id).sort());
        for (const event of failed) assert.equal(event.error.code, 'ERR_MULTITOKEN_STORE');
      } finally {
        client.destroy();
        await server.stop();
      }
    });
  }

  /** A repository on a server whose DEBUG SLEEP a second connection can send at will. */
  async function stallable(options: { findUser?: (id: string) => User }): Promise<{
    tokens: MultiTokenRepository<User>;
    stall(seconds: number): void;
    failed: TokenTouchFailedEvent[];
    close(): Promise<void>;
  }> {
    const server = await startRedisServer(['--enable-debug-command', 'yes']);
    const client = await connectTo(server);
    const staller = await connectTo(server);
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('stall'), timeout: 600, idleTimeout: 60, touchInterval: 0, ...options });
    const failed: TokenTouchFailedEvent[] = [];
    tokens.on('touchFailed', (event) => failed.push(event));
    return {
      tokens,
      failed,
      stall: (seconds) => void staller.sendCommand(['DEBUG', 'SLEEP', String(seconds)]).catch(() => {}),
      async close() {
        client.destroy();
        await server.stop();
        staller.destroy();
      },
    };
  }

  it('answers 503 within timeout plus a tick when Redis stalls twice before the read answers', async () => {
    const s = await stallable({});
    try {
      const { token } = await s.tokens.createToken({ id: 'ada' });
      // Two stalls in a row (0.3 s, then 0.5 s) on the server, ahead of the read.
      s.stall(0.3);
      await sleep(20);
      s.stall(0.5);
      const started = performance.now();
      await assert.rejects(s.tokens.authenticate(token.key), { code: 'ERR_MULTITOKEN_TIMEOUT' });
      const elapsed = performance.now() - started;
      assert.ok(elapsed <= 600 + 100, `answered after ${Math.round(elapsed)} ms`);
    } finally {
      await s.close();
    }
  });

  it('shares the verification\'s deadline: a read and a touch that both stall answer within timeout plus a tick, and accept', async () => {
    let stallTouch = false;
    // findUser runs between the read and the touch: the hook stalls Redis a second time there.
    const s = await stallable({
      findUser: (id) => {
        if (stallTouch) s.stall(0.5);
        return { id };
      },
    });
    try {
      const { token } = await s.tokens.createToken({ id: 'ada' });
      // A first verification measures the server's clock; this one is the read and the touch.
      assert.notEqual(await s.tokens.authenticate(token.key), null);
      stallTouch = true;
      s.stall(0.3);
      await sleep(20);
      const started = performance.now();
      const found = await s.tokens.authenticate(token.key);
      const elapsed = performance.now() - started;
      assert.equal(found?.user.id, 'ada');
      assert.ok(elapsed <= 600 + 100, `answered after ${Math.round(elapsed)} ms: the touch got a deadline of its own`);
      assert.equal(s.failed.length, 1);
      assert.equal(s.failed[0]!.error.code, 'ERR_MULTITOKEN_TIMEOUT');
    } finally {
      await s.close();
    }
  });
});
