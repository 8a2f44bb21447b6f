import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chiSquareUpperTail, crc16, expectedPoissonMax, keySlot, slotCounts, spreadOf, SLOT_COUNT } from '../capacity/slots.js';
import { tagKey } from '../src/keys.js';
import { routingTag } from '../src/token.js';
import { sharedRedis } from './support/shared-redis.js';

describe('slots: CRC16 and the hash-tag rule', () => {
  it('gives the CRC16 (XMODEM) check value', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
    assert.equal(crc16(Buffer.alloc(0)), 0);
  });

  it('hashes only the hash tag when there is a non-empty one', () => {
    assert.equal(keySlot('{user1000}.following'), keySlot('{user1000}.followers'));
    assert.equal(keySlot('rmt:{abc}'), crc16(Buffer.from('abc')) % SLOT_COUNT);
    assert.equal(keySlot('foo{{bar}}zap'), crc16(Buffer.from('{bar')) % SLOT_COUNT);
    assert.equal(keySlot('foo{bar}{zap}'), keySlot('bar'));
  });

  it('hashes the whole key when the tag is empty or unclosed', () => {
    assert.equal(keySlot('a{}{b}'), crc16(Buffer.from('a{}{b}')) % SLOT_COUNT);
    assert.equal(keySlot('a{b'), crc16(Buffer.from('a{b')) % SLOT_COUNT);
    assert.equal(keySlot('plain'), crc16(Buffer.from('plain')) % SLOT_COUNT);
  });
});

describe('slots: against CLUSTER KEYSLOT on a real server', () => {
  // A lone cluster-enabled node answers CLUSTER KEYSLOT without owning any slot.
  const redis = sharedRedis({ own: true, args: ['--cluster-enabled', 'yes'] });

  it('agrees on every key: routing-tag keys, edge cases and non-ASCII', async () => {
    const keys = [
      ...Array.from({ length: 300 }, (_, i) => tagKey('rmt:', routingTag(`user-${i}`))),
      ...Array.from({ length: 50 }, (_, i) => `no-tag-${i}`),
      'a{}{b}', 'foo{{bar}}zap', 'foo{bar}{zap}', '{', '}', '{}', 'x{y', 'é{ü}', '😀{😀}', '',
    ];
    for (const key of keys) {
      const slot = Number(await redis.client.sendCommand(['CLUSTER', 'KEYSLOT', key]));
      assert.equal(keySlot(key), slot, `slot of ${JSON.stringify(key)}`);
    }
  });
});

describe('slots: spread against uniform', () => {
  it('finds a perfectly even spread uniform', () => {
    const spread = spreadOf(new Uint32Array(100).fill(7));
    assert.equal(spread.maxOverMean, 1);
    assert.equal(spread.chiSquare, 0);
    assert.equal(spread.pValue, 1);
  });

  it('rejects everything in one slot', () => {
    const counts = new Uint32Array(SLOT_COUNT);
    counts[42] = 1_000_000;
    const spread = spreadOf(counts);
    assert.equal(spread.maxOverMean, SLOT_COUNT);
    assert.ok(spread.pValue < 1e-12);
  });

  it('gives textbook chi-square tail probabilities', () => {
    // χ²(100) at its 5% and 1% critical values; Wilson–Hilferty is good to a few thousandths.
    assert.ok(Math.abs(chiSquareUpperTail(124.342, 100) - 0.05) < 0.002);
    assert.ok(Math.abs(chiSquareUpperTail(135.807, 100) - 0.01) < 0.001);
    assert.ok(Math.abs(chiSquareUpperTail(16383, 16383) - 0.5) < 0.01);
  });

  it('puts the fullest bin of a uniform spread where a Poisson maximum falls', () => {
    assert.equal(expectedPoissonMax(10, 1), 10); // one bin: the Poisson median
    const ratio = expectedPoissonMax(1e6 / SLOT_COUNT, SLOT_COUNT) / (1e6 / SLOT_COUNT);
    assert.ok(ratio > 1.4 && ratio < 1.7, `max/mean ${ratio}`);
  });

  it('finds no evidence against uniform in the routing tags of 100,000 user ids', () => {
    const counts = slotCounts((function* () {
      for (let i = 0; i < 100_000; i++) yield keySlot(tagKey('rmt:', routingTag(`user-${i}`)));
    })());
    const spread = spreadOf(counts);
    assert.equal(spread.items, 100_000);
    assert.ok(spread.pValue > 0.001, `p = ${spread.pValue}`);
    assert.ok(spread.maxOverMean < 1.5 * spread.expectedMaxOverMean, `max/mean ${spread.maxOverMean}`);
  });

  it('refuses a spread with no items or one bin', () => {
    assert.throws(() => spreadOf(new Uint32Array(10)), RangeError);
    assert.throws(() => spreadOf([5]), RangeError);
  });
});
