// Reading Redis replies: RESP2 and RESP3 shapes are read alike, and any other shape is
// ERR_MULTITOKEN_REPLY, never a guess.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiTokenStoreError } from '../src/errors.js';
import { normaliseInteger, normaliseString, normaliseStrings } from '../src/replies.js';

function isBadReply(err: unknown): boolean {
  return err instanceof MultiTokenStoreError && err.code === 'ERR_MULTITOKEN_REPLY' && err.statusCode === 503;
}

describe('replies', () => {
  it('reads a bulk string from a string or a Buffer, and keeps null', () => {
    assert.equal(normaliseString('abc', 'HGET'), 'abc');
    assert.equal(normaliseString(Buffer.from('äbc'), 'HGET'), 'äbc');
    assert.equal(normaliseString(null, 'HGET'), null);
  });

  it('refuses anything else as a string', () => {
    for (const reply of [undefined, 1, ['a'], {}, true]) assert.throws(() => normaliseString(reply, 'HGET'), isBadReply);
  });

  it('reads an integer from a number, a bigint or a numeric string', () => {
    assert.equal(normaliseInteger(7, 'EVALSHA'), 7);
    assert.equal(normaliseInteger(7n, 'EVALSHA'), 7);
    assert.equal(normaliseInteger('1700000000000', 'EVALSHA'), 1_700_000_000_000);
    assert.equal(normaliseInteger(Buffer.from('-3'), 'EVALSHA'), -3);
  });

  it('refuses a fraction, an unsafe integer, or text as an integer', () => {
    for (const reply of [1.5, 2 ** 53, '12x', 'NaN', '', ' ', null, [1]]) assert.throws(() => normaliseInteger(reply, 'EVALSHA'), isBadReply);
  });

  it('reads an array of strings, and refuses a null or non-string item', () => {
    assert.deepEqual(normaliseStrings(['a', Buffer.from('b')], 'EVALSHA'), ['a', 'b']);
    assert.deepEqual(normaliseStrings([], 'EVALSHA'), []);
    assert.throws(() => normaliseStrings(['a', null], 'EVALSHA'), isBadReply);
    assert.throws(() => normaliseStrings('a', 'EVALSHA'), isBadReply);
  });
});
