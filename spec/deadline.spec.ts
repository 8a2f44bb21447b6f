// The deadline of one call: one shared timer, a store error for anything that fails, and a
// timeout error once the deadline passes, never later than one tick after it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CallDeadline } from '../src/deadline.js';
import { MultiTokenStoreError } from '../src/errors.js';
import { storeErrorOf } from './support/store-error.js';

const never = (): Promise<never> => new Promise(() => {});

describe('deadline', () => {
  it('settles as the call does when it answers in time', async () => {
    const deadline = new CallDeadline(1000);
    assert.equal(await deadline.guard(() => Promise.resolve(42), 'GET'), 42);
  });

  it('rejects a call that outlives its deadline with ERR_MULTITOKEN_TIMEOUT, within one tick of it', async () => {
    const deadline = new CallDeadline(80);
    const started = performance.now();
    const err = await storeErrorOf(deadline.guard(never, 'HGET'));
    const took = performance.now() - started;
    assert.equal(err.code, 'ERR_MULTITOKEN_TIMEOUT');
    assert.equal(err.statusCode, 503);
    // The tick of an 80 ms deadline is 10 ms; a loaded event loop may add some more.
    assert.ok(took >= 80 && took < 80 + 10 + 150, `rejected after ${took} ms`);
  });

  it('keeps one deadline across the steps of a call', async () => {
    const deadline = new CallDeadline(100);
    const due = deadline.start();
    await deadline.guard(() => sleep(60), 'first', due);
    const started = performance.now();
    const err = await storeErrorOf(deadline.guard(never, 'second', due));
    assert.equal(err.code, 'ERR_MULTITOKEN_TIMEOUT');
    assert.ok(performance.now() - started < 100, 'the second step had only what the first left');
  });

  it('turns a failure into ERR_MULTITOKEN_STORE naming the command only, with the cause carried', async () => {
    const deadline = new CallDeadline(1000);
    const cause = new Error('ECONNREFUSED rmt_secret');
    const err = await storeErrorOf(deadline.guard(() => Promise.reject(cause), 'HGET'));
    assert.equal(err.code, 'ERR_MULTITOKEN_STORE');
    assert.equal(err.cause, cause);
    assert.ok(!err.message.includes('rmt_secret'), 'no argument reaches the message');
    const thrown = await storeErrorOf(deadline.guard(() => {
      throw cause;
    }, 'EVALSHA'));
    assert.equal(thrown.code, 'ERR_MULTITOKEN_STORE');
    assert.equal(thrown.cause, cause);
  });

  it('passes a store error through as it is', async () => {
    const deadline = new CallDeadline(1000);
    const own = new MultiTokenStoreError('ERR_MULTITOKEN_REPLY', 'Unexpected reply to Redis HGET');
    assert.equal(await storeErrorOf(deadline.guard(() => Promise.reject(own), 'HGET')), own);
  });

  it('serves deadlines in any order: a short one passes while a longer one waits', async () => {
    const deadline = new CallDeadline(1000);
    const long = deadline.guard(never, 'long', deadline.start());
    const short = deadline.guard(never, 'short', performance.now() + 50);
    assert.equal((await storeErrorOf(short)).code, 'ERR_MULTITOKEN_TIMEOUT');
    const settled = await Promise.race([long.then(() => 'settled', () => 'settled'), sleep(200, 'pending')]);
    assert.equal(settled, 'pending');
    assert.equal((await storeErrorOf(long)).code, 'ERR_MULTITOKEN_TIMEOUT');
  });
});
