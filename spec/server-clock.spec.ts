// The Redis server's clock as a repository sees it: measured beside the first verification,
// whatever this host's clock says, carried on the monotonic clock, and measured again once a
// minute of the monotonic clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { nodeRedisStore } from '../src/client.js';
import { CallDeadline } from '../src/deadline.js';
import { ServerClock } from '../src/server-clock.js';
import { MultiTokenRepository } from '../src/index.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const redis = sharedRedis();
const MINUTE = 60_000;
const TEN_MINUTES = 10 * MINUTE;

/** The server's time now, in ms, by TIME. */
async function serverTime(): Promise<number> {
  const [seconds, micros] = await redis.client.sendCommand<[string, string]>(['TIME']);
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

function clockOff(by: () => number): () => number {
  return () => Date.now() + by();
}

describe('server clock', () => {
  it('is the host clock until a measurement succeeds', () => {
    const deadline = new CallDeadline(1000);
    const clock = new ServerClock(clockOff(() => -TEN_MINUTES), deadline);
    assert.ok(Math.abs(clock.now() - (Date.now() - TEN_MINUTES)) < 50);
  });

  for (const [name, off] of [['behind', -TEN_MINUTES], ['ahead', TEN_MINUTES]] as const) {
    it(`reads the server's time after the first measurement, with the host clock ten minutes ${name}`, async () => {
      const clock = new ServerClock(clockOff(() => off), new CallDeadline(1000));
      const store = nodeRedisStore(redis.client);
      const first = clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000);
      assert.ok(first instanceof Promise, 'the first call hands back the measurement to wait for');
      await first;
      assert.ok(Math.abs(clock.now() - (await serverTime())) < 100, `${clock.now()} vs the server's ${await serverTime()}`);
      assert.equal(clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000), undefined, 'measured, nothing to wait for');
    });
  }

  for (const [name, step] of [['back', -TEN_MINUTES], ['ahead', TEN_MINUTES]] as const) {
    it(`ignores a step of the host clock ten minutes ${name} after the first measurement`, async () => {
      let shift = 0;
      const clock = new ServerClock(clockOff(() => shift), new CallDeadline(1000));
      const store = nodeRedisStore(redis.client);
      await clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000);
      shift = step;
      assert.ok(Math.abs(clock.now() - (await serverTime())) < 100, `${clock.now()} vs the server's ${await serverTime()}`);
      assert.equal(clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000), undefined, 'no re-measurement falls due');
    });
  }

  it('measures again, in the background, once a minute has passed on the monotonic clock', async () => {
    let drift = 0;
    // A monotonic clock that runs a minute fast shows as drift until the next measurement.
    const clock = new ServerClock(Date.now, new CallDeadline(1000), () => performance.now() + drift);
    const store = nodeRedisStore(redis.client);
    await clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000);
    drift = MINUTE + 1000;
    assert.ok(clock.now() - (await serverTime()) > MINUTE, 'the drift shows until the next measurement');
    assert.equal(clock.measureIfDue(store, 'rmt:{clock}', performance.now() + 1000), undefined, 'a re-measurement is never waited for');
    for (let i = 0; i < 50 && clock.now() - (await serverTime()) > 100; i++) await sleep(20);
    assert.ok(Math.abs(clock.now() - (await serverTime())) < 100, 'the re-measurement put it right');
  });

  it('never rejects when the server cannot answer, and keeps the host clock', async () => {
    const closed = createClient({ url: redis.server.url });
    const clock = new ServerClock(clockOff(() => -TEN_MINUTES), new CallDeadline(200));
    await clock.measureIfDue(nodeRedisStore(closed), 'rmt:{clock}', performance.now() + 200);
    assert.ok(Math.abs(clock.now() - (Date.now() - TEN_MINUTES)) < 50);
  });
});

describe('a repository whose host clock steps back ten minutes after its first verification', () => {
  it('refuses an expired token, and an idle-expired one, as soon as they die', async () => {
    let shift = 0;
    const tokens = new MultiTokenRepository({ redis: redis.client, keyPrefix: uniquePrefix('clock-step'), clock: () => Date.now() + shift });
    const idle = new MultiTokenRepository({ redis: redis.client, keyPrefix: uniquePrefix('clock-step-idle'), idleTimeout: 1, touchInterval: 0.2, clock: () => Date.now() + shift });
    const short = (await tokens.createToken({ id: 'ada' }, { ttl: 1 })).token;
    const dozing = (await idle.createToken({ id: 'ada' })).token;
    // Tokens beside them keep each hash alive, so only the verification's clock can refuse.
    await tokens.createToken({ id: 'ada' });
    const awake = (await idle.createToken({ id: 'ada' })).token;
    assert.equal((await tokens.authenticate(short.key))?.user.id, 'ada');
    assert.equal((await idle.authenticate(dozing.key))?.user.id, 'ada');
    shift = -TEN_MINUTES;
    for (let i = 0; i < 4; i++) {
      await sleep(350);
      assert.equal((await idle.authenticate(awake.key))?.user.id, 'ada', 'a token in use stays alive');
    }
    assert.equal(await tokens.authenticate(short.key), null, 'expired by the server clock');
    assert.equal(await idle.authenticate(dozing.key), null, 'idle-expired by the server clock');
  });
});
