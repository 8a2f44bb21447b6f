// The cache fence of src/fence.ts, with real PINGs to a real server: a client-side cache may be
// read only while a PING sent within the last `bound` ms has come back, so a silent connection
// (here a frozen server) serves nothing from the cache past that bound; one PING at a time is
// in flight, and it is sent ahead of need so steady traffic never waits.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { CacheFence } from '../src/fence.js';
import { CallDeadline } from '../src/deadline.js';
import { sharedRedis } from './support/shared-redis.js';
import { until } from './support/until.js';

const TIMEOUT_MS = 300;

// A server of the spec's own: the bound is shown by freezing it.
const shared = sharedRedis({ own: true });

/** A fence over PINGs on the shared client, and how many PINGs it has sent. */
function fenceOf(bound: number): { fence: CacheFence; pings: () => number } {
  let sent = 0;
  const fence = new CacheFence(bound, () => {
    sent += 1;
    return shared.client.ping();
  });
  return { fence, pings: () => sent };
}

/** Asks the fence once, with a fresh deadline: true when the cache may be read at once. */
function readyNow(fence: CacheFence, deadline: CallDeadline): boolean {
  const wait = fence.ready(deadline, deadline.start());
  // A wait nobody awaits here must not become an unhandled rejection.
  void wait?.catch(() => {});
  return wait === undefined;
}

describe('the cache fence', () => {
  it('is closed until a first PING has come back, then open', async () => {
    const deadline = new CallDeadline(TIMEOUT_MS);
    const { fence } = fenceOf(100);
    const wait = fence.ready(deadline, deadline.start());
    assert.notEqual(wait, undefined, 'a fence that never heard the server let a cached read through');
    await wait;
    assert.equal(fence.ready(deadline, deadline.start()), undefined);
  });

  it('sends one PING for every read that waits on it at once', async () => {
    const deadline = new CallDeadline(TIMEOUT_MS);
    const { fence, pings } = fenceOf(100);
    const waits = Array.from({ length: 10 }, () => fence.ready(deadline, deadline.start()));
    const waiting = waits.filter((wait): wait is Promise<void> => wait !== undefined);
    assert.equal(waiting.length, 10, 'a read went ahead before the first PING came back');
    await Promise.all(waiting);
    assert.equal(pings(), 1);
  });

  it('stays open under steady use while the server answers: the PING goes out ahead of need', async () => {
    const bound = 400;
    const deadline = new CallDeadline(TIMEOUT_MS);
    const { fence, pings } = fenceOf(bound);
    await fence.ready(deadline, deadline.start());
    let waited = 0;
    const started = performance.now();
    while (performance.now() - started < 3 * bound) {
      if (!readyNow(fence, deadline)) waited += 1;
      await sleep(10);
    }
    assert.equal(waited, 0, 'a read waited for a PING under steady use');
    assert.ok(pings() >= 3, `only ${pings()} PINGs in ${3 * bound} ms: the fence did not refresh, so the check proves nothing`);
  });

  it('closes once `bound` ms have passed since the last PING that came back, and a read then fails by its deadline', async () => {
    const bound = 200;
    const deadline = new CallDeadline(TIMEOUT_MS);
    const { fence } = fenceOf(bound);
    // The fence stamps its PING a moment after this, so this is at most that early.
    const sentAt = performance.now();
    await fence.ready(deadline, deadline.start());
    // From here on the server hears nothing and answers nothing.
    shared.server.freeze();
    try {
      let lastOpen = -Infinity;
      while (performance.now() - sentAt < 2 * bound) {
        const at = performance.now();
        if (readyNow(fence, deadline)) lastOpen = at;
        await sleep(5);
      }
      assert.ok(lastOpen > -Infinity, 'the fence never let a cached read through after the PING came back');
      // 1 ms for the moment between `sentAt` and the fence's own stamp.
      assert.ok(lastOpen - sentAt <= bound + 1, `a cached read was let through ${Math.round(lastOpen - sentAt)} ms after the last PING was sent`);

      const started = performance.now();
      await assert.rejects(fence.ready(deadline, deadline.start())!, { code: 'ERR_MULTITOKEN_TIMEOUT' });
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= TIMEOUT_MS - 20 && elapsed <= TIMEOUT_MS + 150, `the wait ended after ${Math.round(elapsed)} ms, not at the deadline`);
    } finally {
      shared.server.thaw();
    }
    await until('the fence to open again once the server answers', async () => readyNow(fence, deadline), 2000);
  });
});
