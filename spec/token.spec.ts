import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { generateToken, isValidTokenPrefix, parseToken, pepperFingerprint, routingTag, SECRET_LENGTH, TAG_LENGTH, tokenId } from '../src/token.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

describe('token', () => {
  const tag = routingTag('user-1');
  const key = generateToken('rmt', tag);

  it('starts with the prefix and an underscore, then base62 only', () => {
    assert.match(key, /^rmt_[0-9A-Za-z]{60}$/);
    assert.equal(TAG_LENGTH, 11);
  });

  it('carries the routing tag of its user', () => {
    assert.equal(parseToken(key, 'rmt')?.tag, tag);
    assert.equal(routingTag('user-1'), tag);
    assert.notEqual(routingTag('user-2'), tag);
  });

  it('is different every time', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateToken('rmt', tag)));
    assert.equal(keys.size, 1000);
  });

  it('spreads its secret over the whole alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) for (const ch of generateToken('rmt', tag).slice(4 + TAG_LENGTH, 4 + TAG_LENGTH + SECRET_LENGTH)) seen.add(ch);
    assert.equal(seen.size, 62);
  });

  it('parses back', () => {
    assert.deepEqual(parseToken(key, 'rmt'), { key, tag });
  });

  it('is refused when any one character changes', () => {
    for (let i = 4; i < key.length; i++) {
      const other = ALPHABET[(ALPHABET.indexOf(key[i]!) + 1 + (i % 61)) % 62]!;
      const changed = key.slice(0, i) + other + key.slice(i + 1);
      assert.equal(parseToken(changed, 'rmt'), null, `change at ${i}`);
    }
  });

  it('is refused with another prefix, length or alphabet', () => {
    assert.equal(parseToken(key, 'abc'), null);
    assert.equal(parseToken(key.replace('rmt_', 'rmt-'), 'rmt'), null);
    assert.equal(parseToken(key.slice(0, -1), 'rmt'), null);
    assert.equal(parseToken(`${key}0`, 'rmt'), null);
    assert.equal(parseToken(`${key.slice(0, 20)}+${key.slice(21)}`, 'rmt'), null);
    assert.equal(parseToken(undefined, 'rmt'), null);
    assert.equal(parseToken(42, 'rmt'), null);
  });

  it('works with a custom prefix', () => {
    const custom = generateToken('acme', tag);
    assert.match(custom, /^acme_/);
    assert.notEqual(parseToken(custom, 'acme'), null);
    assert.equal(parseToken(custom, 'rmt'), null);
  });

  it('accepts only short alphanumeric prefixes', () => {
    assert.equal(isValidTokenPrefix('rmt'), true);
    for (const bad of ['', '1abc', 'a_b', 'a-b', 'a'.repeat(17), 7]) assert.equal(isValidTokenPrefix(bad), false);
  });

  it('has an id that depends on the pepper and never contains the token', () => {
    const plain = tokenId(key, null);
    const peppered = tokenId(key, Buffer.from('pepper-pepper-pepper'));
    assert.match(plain, /^[A-Za-z0-9_-]{22}$/);
    assert.notEqual(plain, peppered);
    assert.equal(tokenId(key, null), plain);
    assert.equal(key.includes(plain), false);
  });

  it("has as id its pepper's fingerprint, then the first 108 bits of the SHA-256 (or HMAC-SHA-256) of the token, base64url", () => {
    const pepper = Buffer.from('pepper-pepper-pepper');
    const plain = createHmac('sha256', Buffer.alloc(0)).update('passport-redis-multi-token pepper').digest().subarray(0, 3).toString('base64url');
    const peppered = createHmac('sha256', pepper).update('passport-redis-multi-token pepper').digest().subarray(0, 3).toString('base64url');
    assert.equal(pepperFingerprint(null), plain);
    assert.equal(pepperFingerprint(pepper), peppered);
    for (let i = 0; i < 2000; i++) {
      const candidate = generateToken('rmt', routingTag(`user-${i}`));
      assert.equal(tokenId(candidate, null), plain + createHash('sha256').update(candidate).digest().subarray(0, 27).toString('base64url').slice(0, 18));
      assert.equal(tokenId(candidate, pepper), peppered + createHmac('sha256', pepper).update(candidate).digest().subarray(0, 27).toString('base64url').slice(0, 18));
    }
  });

  it('has a 64-bit routing tag: the first 8 bytes of the SHA-256 of the user id, in 11 base62 digits', () => {
    for (const userId of ['user-1', 'ada', '\u00e9', 'x'.repeat(256)]) {
      let value = 0n;
      for (const ch of routingTag(userId)) value = value * 62n + BigInt(ALPHABET.indexOf(ch));
      assert.equal(value, createHash('sha256').update(userId).digest().readBigUInt64BE(0));
    }
    // Ids a 32-bit tag would have merged now and then are apart: none of 200,000 share a tag.
    const tags = new Set(Array.from({ length: 200_000 }, (_, i) => routingTag(`u${i}`)));
    assert.equal(tags.size, 200_000);
  });
});
