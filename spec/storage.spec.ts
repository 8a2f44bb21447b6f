// Storage v2's promises on a real Redis: app servers whose clocks disagree still accept each
// other's tokens, agree on what is revoked, and stamp times from the server's clock; a user's tokens live and die together
// under memory eviction; the per-user cap is on by default.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisClientType } from 'redis';
import { MultiTokenRepository, type MultiTokenRepositoryOptions, type TokenExpiredEvent } from '../src/index.js';
import { decodeRecord } from '../src/record.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

/** The server's clock in epoch ms, rounded down as the scripts round it. */
async function serverNow(client: RedisClientType): Promise<number> {
  const [seconds, micros] = await client.sendCommand<[string, string]>(['TIME']);
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

/** How many of `keys` authenticate through `tokens`. */
async function liveCount(tokens: MultiTokenRepository<User>, keys: readonly string[]): Promise<number> {
  const found = await Promise.all(keys.map((key) => tokens.authenticate(key)));
  return found.filter((result) => result !== null).length;
}

const shared = sharedRedis();

describe('two app servers whose clocks disagree', () => {
  const SKEW_MS = 5000;

  /** Two repositories on one key space, one clock 5 s ahead of the server's and one 5 s behind. */
  function pair(idleTimeout: number): { ahead: MultiTokenRepository<User>; behind: MultiTokenRepository<User>; prefix: string } {
    const prefix = uniquePrefix('skew');
    const options: MultiTokenRepositoryOptions<User> = { redis: shared.client, keyPrefix: prefix, idleTimeout, touchInterval: 0 };
    return {
      ahead: new MultiTokenRepository<User>({ ...options, clock: () => Date.now() + SKEW_MS }),
      behind: new MultiTokenRepository<User>({ ...options, clock: () => Date.now() - SKEW_MS }),
      prefix,
    };
  }

  /** Three tokens issued by each of the two. */
  async function issueOnBoth(ahead: MultiTokenRepository<User>, behind: MultiTokenRepository<User>, user: User): Promise<string[]> {
    const keys: string[] = [];
    for (let i = 0; i < 3; i++) keys.push((await ahead.createToken(user)).token.key, (await behind.createToken(user)).token.key);
    return keys;
  }

  // Times are stamped by the server, so a host's clock being off, even by more than the idle
  // timeout, must not change which tokens it accepts or whether it records their use.
  it('accept each other\'s fresh tokens, even with an idle timeout (2 s) shorter than the skew', async () => {
    const { ahead, behind } = pair(2);
    const ada = { id: 'ada' };
    const keys = await issueOnBoth(ahead, behind, ada);
    assert.equal(await liveCount(behind, keys), keys.length, 'the server whose clock is behind refused fresh tokens');
    assert.equal(await liveCount(ahead, keys), keys.length, 'the server whose clock is ahead refused fresh tokens');
  });

  it('judge expiry by the server\'s clock in a process that only verifies', async () => {
    const prefix = uniquePrefix('skew-verify');
    const issuer = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, ttl: 1 });
    const ahead = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, clock: () => Date.now() + SKEW_MS });
    const behind = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, clock: () => Date.now() - SKEW_MS });
    const { token } = await issuer.createToken({ id: 'ada' });
    // A longer-lived token keeps the user's hash, and the expired field in it, past the first one's end.
    await issuer.createToken({ id: 'ada' }, { ttl: 3600 });
    // Fresh, by the server's clock: the host 5 s ahead would call it expired by its own.
    assert.notEqual(await ahead.authenticate(token.key), null, 'a host whose clock is ahead refused a fresh token');
    assert.notEqual(await behind.authenticate(token.key), null);
    while ((await serverNow(shared.client)) <= token.expiresAt!.getTime()) await new Promise((resolve) => setTimeout(resolve, 50));
    // Expired, by the server's clock: the host 5 s behind would still call it fresh by its own.
    assert.equal(await behind.authenticate(token.key), null, 'a host whose clock is behind accepted an expired token');
    assert.equal(await ahead.authenticate(token.key), null);
  });

  it('record each use of a token, in the server\'s time, whichever of them sees it', async () => {
    const { ahead, behind, prefix } = pair(20);
    for (const [tokens, user] of [[ahead, { id: 'ada' }], [behind, { id: 'grace' }]] as const) {
      const { token } = await tokens.createToken(user);
      const usedFrom = await serverNow(shared.client);
      await tokens.authenticate(token.key);
      const usedTo = await serverNow(shared.client);
      const lastUsed = decodeRecord((await shared.client.hGet(hashKeyOf(prefix, user.id), token.id))!, 'HGET').lastUsedAt;
      const which = tokens === ahead ? 'ahead' : 'behind';
      assert.ok(lastUsed !== null && lastUsed >= usedFrom, `the use on the server whose clock is ${which} was not recorded`);
      assert.ok(lastUsed <= usedTo, `the server whose clock is ${which} recorded a time not the server's`);
    }
  });

  it('share tokens both ways, and after expireAllTokens on either, no token of the user authenticates on either', async () => {
    // An idle timeout longer than the skew, so that every token authenticates on both first.
    const { ahead, behind } = pair(20);
    for (const [revoker, user] of [[ahead, { id: 'ada' }], [behind, { id: 'grace' }]] as const) {
      const keys = await issueOnBoth(ahead, behind, user);
      // Each token is used on both servers, twice.
      for (let round = 0; round < 2; round++) {
        assert.equal(await liveCount(ahead, keys), keys.length);
        assert.equal(await liveCount(behind, keys), keys.length);
      }
      assert.equal((await behind.listTokens(user)).length, keys.length);
      assert.equal((await ahead.listTokens(user)).length, keys.length);

      assert.equal(await revoker.expireAllTokens(user), keys.length);
      assert.equal(await liveCount(ahead, keys), 0);
      assert.equal(await liveCount(behind, keys), 0);
      assert.deepEqual(await ahead.listTokens(user), []);
      assert.deepEqual(await behind.listTokens(user), []);
    }
  });

  it('revoke one token for both, whichever server issued it and whichever revokes it', async () => {
    const { ahead, behind } = pair(20);
    const ada = { id: 'ada' };
    const fromAhead = (await ahead.createToken(ada)).token;
    const fromBehind = (await behind.createToken(ada)).token;
    const kept = (await behind.createToken(ada)).token;
    assert.equal(await behind.expireToken(fromAhead.key), true);
    assert.equal(await ahead.expireTokenById(ada, fromBehind.id), true);
    for (const tokens of [ahead, behind]) {
      assert.equal(await tokens.authenticate(fromAhead.key), null);
      assert.equal(await tokens.authenticate(fromBehind.key), null);
      assert.notEqual(await tokens.authenticate(kept.key), null);
    }
    assert.equal(await ahead.expireOtherTokens(ada, fromAhead.key), 1);
    assert.equal(await liveCount(behind, [kept.key]), 0);
  });

  it('stamp created and the hash expiry from the server\'s clock, not their own', async () => {
    const IDLE_S = 20;
    const { ahead, behind, prefix } = pair(IDLE_S);
    for (const [tokens, user] of [[ahead, { id: 'ada' }], [behind, { id: 'grace' }]] as const) {
      const hash = hashKeyOf(prefix, user.id);
      const from = await serverNow(shared.client);
      const { token } = await tokens.createToken(user);
      const to = await serverNow(shared.client);
      const created = token.createdAt.getTime();
      assert.ok(created >= from && created <= to, 'createdAt is not the server\'s time');
      assert.equal(decodeRecord((await shared.client.hGet(hash, token.id))!, 'HGET').createdAt, created);
      // The hash lives until the token's idle deadline on the server's clock.
      assert.equal(Number(await shared.client.sendCommand(['PEXPIRETIME', hash])), created + IDLE_S * 1000);
    }
  });
});

describe('a Redis that evicts keys under memory pressure', () => {
  const USERS = 150;
  const TOKENS_PER_USER = 4;
  const FILLER = 'x'.repeat(2048);
  const evicting = sharedRedis({ own: true, args: ['--maxmemory', '3mb', '--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '3'] });
  let client: RedisClientType;

  evicting.before(async () => {
    client = await evicting.connect();
  });

  async function evicted(): Promise<number> {
    return Number(/^evicted_keys:(\d+)/m.exec(await evicting.client.info('stats'))?.[1] ?? NaN);
  }

  it('keeps each user\'s tokens all or none, and expireAllTokens leaves none that authenticates', async () => {
    const prefix = uniquePrefix('evict');
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: prefix });
    const users = Array.from({ length: USERS }, (_, i) => ({ id: `user-${i}` }));
    const keysOf = new Map<string, string[]>();
    await Promise.all(
      users.map(async (user) => {
        const keys: string[] = [];
        for (let i = 0; i < TOKENS_PER_USER; i++) keys.push((await tokens.createToken(user, { device: `device ${i}` })).token.key);
        keysOf.set(user.id, keys);
      }),
    );
    const hashes = users.map((user) => hashKeyOf(prefix, user.id));
    assert.equal(await evicting.client.exists(hashes), USERS);

    // Filler until the server has evicted at least one user's hash.
    let filler = 0;
    while ((await evicting.client.exists(hashes)) === USERS) {
      assert.ok(filler < 5000, 'the server never evicted a user\'s hash');
      await Promise.all(Array.from({ length: 20 }, () => evicting.client.set(`filler:${filler++}`, FILLER)));
    }
    assert.ok((await evicted()) > 0);

    // Eviction paused while each user's tokens are read, so the reads see one state.
    await evicting.client.configSet('maxmemory', '0');
    let gone = 0;
    for (const user of users) {
      const keys = keysOf.get(user.id)!;
      const live = await liveCount(tokens, keys);
      assert.ok(live === 0 || live === keys.length, `${user.id} has ${live} of ${keys.length} tokens left`);
      if (live === 0) gone += 1;
    }
    assert.ok(gone > 0 && gone < USERS, `${gone} of ${USERS} users lost their tokens: the check needs both kinds`);

    // Logging out everywhere under pressure, with keys evicted around it.
    await evicting.client.configSet('maxmemory', '3mb');
    const before = await evicted();
    for (const user of users) {
      await Promise.all(Array.from({ length: 4 }, () => evicting.client.set(`filler:${filler++}`, FILLER)));
      await tokens.expireAllTokens(user);
      assert.equal(await liveCount(tokens, keysOf.get(user.id)!), 0, `a token of ${user.id} still authenticates`);
    }
    assert.ok((await evicted()) > before, 'nothing was evicted during the logouts');
  });
});

describe('maxTokensPerUser left at its default', () => {
  it('is 100: the 101st token evicts the first, with an `evicted` event', async () => {
    const tokens = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: uniquePrefix('cap') });
    const expired: TokenExpiredEvent[] = [];
    tokens.on('expired', (event) => expired.push(event));
    const ada = { id: 'ada' };

    const first = (await tokens.createToken(ada)).token;
    // The record keeps milliseconds: let the server's clock pass the first token's, so the
    // first is strictly the oldest.
    while ((await serverNow(shared.client)) <= first.createdAt.getTime());
    const keys = [first.key];
    for (let i = 1; i < 100; i++) keys.push((await tokens.createToken(ada)).token.key);
    assert.equal((await tokens.listTokens(ada)).length, 100);
    assert.deepEqual(expired, []);

    const last = (await tokens.createToken(ada)).token;
    assert.deepEqual(expired, [{ reason: 'evicted', userId: 'ada', ids: [first.id] }]);
    const listed = await tokens.listTokens(ada);
    assert.equal(listed.length, 100);
    assert.ok(!listed.some((token) => token.id === first.id));
    assert.equal(await tokens.authenticate(first.key), null);
    assert.equal(await liveCount(tokens, [...keys.slice(1), last.key]), 100);
  });
});
