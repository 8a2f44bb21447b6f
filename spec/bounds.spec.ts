// Bounds (issue 14): a stored record is at most 1 KB, its limits counted in UTF-8 bytes after
// cleaning; one hash holds at most HASH_MAX_FIELDS tokens, whoever shares it; and every script
// stays within its stated server time at the worst case, as Redis measures it (SLOWLOG), on a
// redis-server of this file's own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { MultiTokenError, MultiTokenRepository } from '../src/index.js';
import { HASH_MAX_FIELDS } from '../src/keys.js';
import { RECORD_MAX_BYTES } from '../src/record.js';
import { hashKeyOf } from './support/layout.js';
import { startRedisServer, uniquePrefix, type RedisServer } from './support/redis-server.js';
import { largestRecord, LARGEST_OPTIONS, logEveryCommand, longestUserId, randomTokenId, scriptTimes } from './support/script-time.js';

interface User {
  id: string;
}

// The stated bound on one script's server time, at the default cap and at the hash bound. The
// lowest of several calls is compared: a loaded machine can only slow a call down.
const SCRIPT_MAX_US = 5000;
const CALLS = 5;
const DAY_MS = 86_400_000;

describe('bounds', () => {
  let server: RedisServer;
  let admin: RedisClientType;

  before(async () => {
    server = await startRedisServer();
    admin = createClient({ url: server.url });
    await admin.connect();
  });

  after(async () => {
    await admin.close();
    await server.stop();
  });

  function repository(prefix: string, options: { maxTokensPerUser?: number | null; idleTimeout?: number; touchInterval?: number } = {}): MultiTokenRepository<User> {
    return new MultiTokenRepository<User>({ redis: admin, keyPrefix: prefix, ...options });
  }

  /** Asserts the fastest of the logged calls of each script is within the bound. */
  function assertFastest(label: string, times: ReadonlyMap<string, readonly number[]>, expected: readonly string[]): void {
    for (const name of expected) {
      const calls = times.get(name) ?? [];
      assert.ok(calls.length >= CALLS, `${label}: ${calls.length} ${name} scripts logged`);
      const fastest = Math.min(...calls);
      assert.ok(fastest <= SCRIPT_MAX_US, `${label}: the ${name} script took ${fastest} µs at best, over ${SCRIPT_MAX_US}`);
    }
  }

  /** Adds the script times logged since the last call to `into`. */
  async function collect(into: Map<string, number[]>): Promise<void> {
    for (const [name, calls] of await scriptTimes(admin)) into.set(name, [...(into.get(name) ?? []), ...calls]);
  }

  describe('a stored record', () => {
    it('is at most 1 KB with the longest user id and the largest options accepted, touched or not', async () => {
      const prefix = uniquePrefix('record-max');
      const tokens = repository(prefix, { touchInterval: 0 });
      const user = { id: longestUserId(1) };
      const { token } = await tokens.createToken(user, LARGEST_OPTIONS);
      const key = hashKeyOf(prefix, user.id);
      const fresh = (await admin.hGet(key, token.id))!;
      assert.ok(Buffer.byteLength(fresh) <= RECORD_MAX_BYTES, `${Buffer.byteLength(fresh)} bytes`);
      assert.ok(Buffer.byteLength(fresh) > 900, 'the options were not the largest');
      await tokens.authenticate(token.key);
      const touched = (await admin.hGet(key, token.id))!;
      assert.ok(Buffer.byteLength(touched) > Buffer.byteLength(fresh), 'the touch wrote lastUsed');
      assert.ok(Buffer.byteLength(touched) <= RECORD_MAX_BYTES, `${Buffer.byteLength(touched)} bytes`);
      // Rotated: the old record gains its family and grace end, the new one its family.
      const rotated = await tokens.rotateToken(token.key);
      assert.notEqual(rotated, null);
      for (const id of [token.id, rotated!.token.id]) {
        const record = (await admin.hGet(key, id))!;
        assert.ok(Buffer.byteLength(record) <= RECORD_MAX_BYTES, `${Buffer.byteLength(record)} bytes after a rotation`);
      }
    });

    it('counts in UTF-8 bytes after cleaning: a device label is cut to 256 bytes on a character boundary', async () => {
      const tokens = repository(uniquePrefix('device-bytes'));
      const { token } = await tokens.createToken({ id: 'ada' }, { device: '\u00e9'.repeat(200) + '\u{1F600}'.repeat(10) });
      assert.equal(token.device, '\u00e9'.repeat(128));
      const astral = await tokens.createToken({ id: 'ada' }, { device: 'a' + '\u{1F600}'.repeat(64) });
      assert.equal(astral.token.device, 'a' + '\u{1F600}'.repeat(63));
      assert.equal(astral.token.device?.isWellFormed(), true);
    });

    it('refuses meta over 160 bytes as stored, a control character counting 6, with a TypeError naming meta', async () => {
      const prefix = uniquePrefix('meta-bytes');
      const tokens = repository(prefix);
      // {"k":"…"} is 8 bytes around the value.
      await tokens.createToken({ id: 'ada' }, { meta: { k: 'v'.repeat(152) } });
      await assert.rejects(tokens.createToken({ id: 'ada' }, { meta: { k: 'v'.repeat(153) } }), /^TypeError: meta/);
      await assert.rejects(tokens.createToken({ id: 'ada' }, { meta: { k: '\u0001'.repeat(26) } }), /^TypeError: meta/);
      await assert.rejects(tokens.createToken({ id: 'ada' }, { meta: { k: '\u00e9'.repeat(77) } }), /^TypeError: meta/);
      assert.equal((await tokens.listTokens({ id: 'ada' })).length, 1);
    });

    it('refuses more than 16 scopes, a scope over 64 bytes, or 256 bytes of scopes, with a TypeError naming scopes', async () => {
      const tokens = repository(uniquePrefix('scope-bounds'));
      const ok = await tokens.createToken({ id: 'ada' }, { scopes: LARGEST_OPTIONS.scopes });
      assert.equal(ok.token.scopes.length, 16);
      await tokens.createToken({ id: 'ada' }, { scopes: ['s'.repeat(64)] });
      const bad = [
        Array.from({ length: 17 }, (_, i) => `s${i}`),
        ['s'.repeat(65)],
        Array.from({ length: 5 }, (_, i) => `${i}`.repeat(52)),
      ];
      for (const scopes of bad) await assert.rejects(tokens.createToken({ id: 'ada' }, { scopes }), /^TypeError: scopes/);
      assert.equal((await tokens.listTokens({ id: 'ada' })).length, 2);
    });

    it('caps maxTokensPerUser at the hash bound', () => {
      assert.throws(() => repository('x:', { maxTokensPerUser: HASH_MAX_FIELDS + 1 }), /^TypeError: maxTokensPerUser/);
      repository('x:', { maxTokensPerUser: HASH_MAX_FIELDS });
    });
  });

  describe('one user at the default cap with the largest records', () => {
    it(`runs every script within ${SCRIPT_MAX_US} µs of server time`, async () => {
      const prefix = uniquePrefix('worst-user');
      const tokens = repository(prefix, { idleTimeout: 7 * 86400, touchInterval: 0 });
      const user = { id: longestUserId(0) };
      const issued = [];
      for (let i = 0; i < 100; i++) issued.push((await tokens.createToken(user, LARGEST_OPTIONS)).token);
      // Every script known to the server before the log starts.
      await tokens.listTokens(user);
      await tokens.expireOtherTokens(user, issued[99]!.key);
      for (let i = 0; i < 99; i++) issued[i] = (await tokens.createToken(user, LARGEST_OPTIONS)).token;
      await tokens.expireTokenById(user, randomTokenId());
      await tokens.authenticate(issued[0]!.key);

      await logEveryCommand(admin);
      const times = new Map<string, number[]>();
      for (let i = 0; i < CALLS; i++) {
        // At the cap: each create evicts one.
        const { token } = await tokens.createToken(user, LARGEST_OPTIONS);
        await tokens.listTokens(user);
        await tokens.authenticate(token.key);
        await tokens.expireTokenById(user, randomTokenId());
        await tokens.expireOtherTokens(user, token.key);
        await collect(times);
        // Back to the cap for the next round, unlogged: these creates sweep a smaller hash.
        for (let j = 0; j < 99; j++) await tokens.createToken(user, LARGEST_OPTIONS);
        await scriptTimes(admin);
      }
      assert.equal(await admin.hLen(hashKeyOf(prefix, user.id)), 100);
      assertFastest('at the default cap', times, ['create', 'list', 'touch', 'expire', 'expire-user']);
    });
  });

  describe(`a hash shared by many users at its bound (${HASH_MAX_FIELDS} fields of about 1 KB)`, () => {
    it('refuses a token past the bound with ERR_MULTITOKEN_HASH_FULL, storing and evicting nothing, and every script stays within the bound', async () => {
      const prefix = uniquePrefix('full-hash');
      const tokens = repository(prefix, { maxTokensPerUser: null });
      const capped = repository(prefix, { maxTokensPerUser: HASH_MAX_FIELDS });
      const victim = { id: longestUserId(0) };
      const key = hashKeyOf(prefix, victim.id);
      // The victim's own token, then the records of 100 other users who share the hash.
      const { token: own } = await tokens.createToken(victim, LARGEST_OPTIONS);
      const now = Date.now();
      const fields: Record<string, string> = {};
      for (let i = 1; i < HASH_MAX_FIELDS - 1; i++) fields[randomTokenId()] = largestRecord(longestUserId(i % 100 + 1), now, DAY_MS);
      await admin.hSet(key, fields);
      // One more fits: the hash is at its bound.
      await tokens.createToken(victim, LARGEST_OPTIONS);
      assert.equal(await admin.hLen(key), HASH_MAX_FIELDS);
      await tokens.listTokens(victim);
      await tokens.expireTokenById(victim, randomTokenId());

      await logEveryCommand(admin);
      for (let i = 0; i < CALLS; i++) {
        const refused = await tokens.createToken(victim, LARGEST_OPTIONS).then(() => null, (err: unknown) => err);
        assert.ok(refused instanceof MultiTokenError, String(refused));
        assert.equal(refused.code, 'ERR_MULTITOKEN_HASH_FULL');
        await tokens.listTokens(victim);
        await tokens.expireTokenById(victim, randomTokenId());
      }
      const times = new Map<string, number[]>();
      await collect(times);
      assertFastest('at the hash bound', times, ['create', 'list', 'expire']);
      assert.equal(await admin.hLen(key), HASH_MAX_FIELDS);
      assert.equal((await tokens.authenticate(own.key))?.user.id, victim.id);

      // Under their cap, the victim is refused all the same: other users' records fill the hash.
      const evicted: string[] = [];
      capped.on('expired', ({ ids }) => evicted.push(...ids));
      await assert.rejects(capped.createToken(victim), { code: 'ERR_MULTITOKEN_HASH_FULL' });
      assert.deepEqual(evicted, []);
      // At their cap, a login evicts one of their own and fits: the hash does not grow.
      const { token: newest } = await repository(prefix, { maxTokensPerUser: 2 }).createToken(victim);
      assert.equal(await admin.hLen(key), HASH_MAX_FIELDS);
      assert.equal(await tokens.authenticate(own.key), null, 'the oldest of the victim was evicted');
      // Room made, a login fits again.
      assert.equal(await tokens.expireToken(newest.key), true);
      await tokens.createToken(victim);
      assert.equal(await admin.hLen(key), HASH_MAX_FIELDS);
    });
  });
});
