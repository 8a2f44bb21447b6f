import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient, RESP_TYPES } from 'redis';
import { MultiTokenError, MultiTokenRepository, type TokenExpiredEvent } from '../src/index.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';
import { ada, grace, users, type User } from './support/users.js';

const shared = sharedRedis();

const prefixes = new WeakMap<MultiTokenRepository<User>, string>();

function repository(options: Partial<ConstructorParameters<typeof MultiTokenRepository<User>>[0]> = {}): MultiTokenRepository<User> {
  const keyPrefix = uniquePrefix('repo');
  const tokens = new MultiTokenRepository<User>({
    redis: shared.client,
    keyPrefix,
    findUser: (id) => users.get(id) ?? null,
    ...options,
  });
  prefixes.set(tokens, keyPrefix);
  return tokens;
}

/** The hash that holds `userId`'s tokens in `tokens`' key space. */
function hashOf(tokens: MultiTokenRepository<User>, userId: string): string {
  return hashKeyOf(prefixes.get(tokens)!, userId);
}


describe('MultiTokenRepository', () => {
  it('issues a token that authenticates as its user', async () => {
    const tokens = repository();
    const { token, first } = await tokens.createToken(ada, { device: 'phone' });
    assert.equal(first, true);
    assert.match(token.key, /^rmt_[0-9A-Za-z]{60}$/);
    assert.equal(token.userId, '1');
    assert.equal(token.device, 'phone');
    assert.deepEqual(token.scopes, ['*']);
    assert.ok(token.expiresAt !== null && token.expiresAt.getTime() - token.createdAt.getTime() === 14 * 86400 * 1000);

    const found = await tokens.authenticate(token.key);
    assert.deepEqual(found?.user, ada);
    assert.equal(found?.token.id, token.id);
    assert.equal(found?.token.device, 'phone');
    assert.equal('key' in (found?.token ?? {}), false);
    assert.deepEqual(await tokens.getUserFromToken(token.key), ada);
  });

  it('says first is true, then false, then true again after expireAllTokens', async () => {
    const tokens = repository();
    assert.equal((await tokens.createToken(ada)).first, true);
    assert.equal((await tokens.createToken(ada)).first, false);
    assert.equal((await tokens.createToken(grace)).first, true);
    assert.equal(await tokens.expireAllTokens(ada), 2);
    assert.equal((await tokens.createToken(ada)).first, true);
  });

  it('expires one device by key, by token or by authInfo, and leaves the others working', async () => {
    const tokens = repository();
    const phone = (await tokens.createToken(ada)).token;
    const laptop = (await tokens.createToken(ada)).token;
    const tablet = (await tokens.createToken(ada)).token;
    const browser = (await tokens.createToken(ada)).token;

    assert.equal(await tokens.expireToken(phone.key), true);
    assert.equal(await tokens.expireToken(laptop), true);
    const info = (await tokens.authenticate(tablet.key))!.token;
    assert.equal(await tokens.expireToken(info), true);

    assert.equal(await tokens.authenticate(phone.key), null);
    assert.equal(await tokens.authenticate(laptop.key), null);
    assert.equal(await tokens.authenticate(tablet.key), null);
    assert.deepEqual((await tokens.authenticate(browser.key))?.user, ada);
    assert.equal(await tokens.expireToken(phone.key), false, 'a second logout removes nothing');
    assert.deepEqual((await tokens.listTokens(ada)).map((t) => t.id), [browser.id]);
  });

  it('refuses a look-alike { id, userId } object, which could name someone else\'s token, and revokes nothing', async () => {
    const tokens = repository();
    const token = (await tokens.createToken(ada)).token;
    for (const lookAlike of [{ id: token.id, userId: ada.id }, { ...token }, JSON.parse(JSON.stringify(token)) as unknown]) {
      await assert.rejects(tokens.expireToken(lookAlike as { id: string; userId: string }), /^TypeError: expireToken .*expireTokenById\(user, id\)/);
    }
    assert.deepEqual((await tokens.authenticate(token.key))?.user, ada);
    const info = (await tokens.authenticate(token.key))!.token;
    assert.equal(await tokens.expireToken(info), true, 'req.authInfo still logs out');
    assert.equal(await tokens.authenticate(token.key), null);
  });

  it('expires every token of one user and no one else\'s', async () => {
    const tokens = repository();
    const mine = await Promise.all([1, 2, 3].map(() => tokens.createToken(ada)));
    const theirs = (await tokens.createToken(grace)).token;
    const expired: TokenExpiredEvent[] = [];
    tokens.on('expired', (event) => expired.push(event));

    assert.equal(await tokens.expireAllTokens(ada), 3);
    for (const { token } of mine) assert.equal(await tokens.authenticate(token.key), null);
    assert.deepEqual((await tokens.authenticate(theirs.key))?.user, grace);
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.reason, 'logout-all');
    assert.equal(expired[0]!.userId, '1');
    assert.deepEqual([...expired[0]!.ids].sort(), mine.map((m) => m.token.id).sort());
    assert.equal(await tokens.expireAllTokens(ada), 0);
  });

  it('rejects a malformed or unknown token with null', async () => {
    const tokens = repository();
    const { token } = await tokens.createToken(ada);
    assert.equal(await tokens.authenticate('rmt_nope'), null);
    const mistyped = `${token.key.slice(0, -1)}${token.key.endsWith('x') ? 'y' : 'x'}`;
    assert.equal(await tokens.authenticate(mistyped), null);
    await tokens.expireToken(token);
    assert.equal(await tokens.authenticate(token.key), null);
  });

  it('treats a token whose user is gone as invalid', async () => {
    const tokens = repository();
    const ghost = { id: 'ghost', name: 'gone' };
    const { token } = await tokens.createToken(ghost);
    assert.equal(await tokens.authenticate(token.key), null);
    const refusing = repository({ findUser: () => false as unknown as null });
    assert.equal(await refusing.authenticate((await refusing.createToken(ada)).token.key), null);
  });

  it('does not count a token whose record vanished outside the package', async () => {
    const tokens = repository({ maxTokensPerUser: 2, ttl: null });
    const expired: TokenExpiredEvent[] = [];
    tokens.on('expired', (event) => expired.push(event));
    const a = (await tokens.createToken(ada)).token;
    const b = (await tokens.createToken(ada)).token;
    await shared.client.hDel(hashOf(tokens, ada.id), [a.id, b.id]);
    assert.equal((await tokens.createToken(ada)).first, true);
    assert.deepEqual(expired, [], 'a vanished token is not reported as evicted');
  });

  it('stores nothing from which a token could be rebuilt', async () => {
    const tokens = repository({ secret: 'a pepper of at least sixteen bytes' });
    const keyPrefix = prefixes.get(tokens)!;
    const issued = [];
    for (let i = 0; i < 5; i++) issued.push((await tokens.createToken(i % 2 ? ada : grace, { device: `device ${i}`, meta: { os: 'linux' } })).token);

    const stored: string[] = [];
    const keys = await shared.keysUnder(keyPrefix);
    assert.deepEqual(keys.sort(), [hashOf(tokens, ada.id), hashOf(tokens, grace.id)].sort(), 'one hash per user');
    for (const key of keys) {
      stored.push(key);
      const type = await shared.client.type(key);
      if (type === 'hash') stored.push(...Object.entries(await shared.client.hGetAll(key)).flat());
      else assert.fail(`unexpected ${type} at rest`);
    }
    const everything = stored.join('\n');
    for (const { key } of issued) {
      const secret = key.slice(10, 53);
      for (let i = 0; i + 8 <= secret.length; i++) {
        assert.equal(everything.includes(secret.slice(i, i + 8)), false, 'an 8-character piece of a secret is at rest');
      }
      assert.equal(everything.includes(key), false);
    }
  });

  it('keeps every token that still authenticates in its user\'s index, under concurrent create and expire-all', async () => {
    const tokens = repository();
    const created: string[] = [];
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      work.push(tokens.createToken(ada).then(({ token }) => created.push(token.key)));
      if (i % 10 === 5) work.push(tokens.expireAllTokens(ada));
    }
    await Promise.all(work);
    const indexed = new Set((await tokens.listTokens(ada)).map((t) => t.id));
    let alive = 0;
    for (const key of created) {
      const found = await tokens.authenticate(key);
      if (found !== null) {
        alive += 1;
        assert.ok(indexed.has(found.token.id), 'a live token is missing from the index');
      }
    }
    assert.equal(alive, indexed.size);
    assert.equal(await tokens.expireAllTokens(ada), alive);
    for (const key of created) assert.equal(await tokens.authenticate(key), null);
  });

  it('falls back to EVAL when the server has lost its scripts', async () => {
    const tokens = repository();
    const { token } = await tokens.createToken(ada);
    await shared.client.scriptFlush();
    assert.equal((await tokens.createToken(ada)).first, false);
    assert.equal(await tokens.expireToken(token.key), true);
  });

  it('reports a record it cannot read as ERR_MULTITOKEN_REPLY', async () => {
    const tokens = repository();
    const { token } = await tokens.createToken(ada);
    await shared.client.hSet(hashOf(tokens, ada.id), token.id, 'not a record');
    await assert.rejects(tokens.authenticate(token.key), (err: unknown) => {
      assert.ok(err instanceof MultiTokenError);
      assert.equal(err.code, 'ERR_MULTITOKEN_REPLY');
      assert.equal((err as { statusCode?: number }).statusCode, 503);
      return true;
    });
  });

  for (const [label, connect] of [
    ['RESP2', () => createClient({ url: shared.server.url, RESP: 2 })],
    ['RESP3', () => createClient({ url: shared.server.url, RESP: 3 })],
    ['RESP3 with Map and Buffer type mapping', () =>
      createClient({ url: shared.server.url, RESP: 3 }).withTypeMapping({ [RESP_TYPES.MAP]: Map, [RESP_TYPES.BLOB_STRING]: Buffer })],
    ['RESP2 with Buffer type mapping', () =>
      createClient({ url: shared.server.url, RESP: 2 }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })],
  ] as const) {
    it(`works over a ${label} client`, async () => {
      const client = connect();
      await client.connect();
      try {
        const tokens = new MultiTokenRepository<User>({
          redis: client,
          keyPrefix: uniquePrefix('resp'),
          findUser: (id) => users.get(id) ?? null,
          touchInterval: 0,
        });
        const { token } = await tokens.createToken(ada, { device: 'tablet', scopes: ['read'], meta: { os: 'ios' } });
        const found = await tokens.authenticate(token.key);
        assert.deepEqual(found?.user, ada);
        assert.deepEqual(found?.token.scopes, ['read']);
        assert.deepEqual(found?.token.meta, { os: 'ios' });
        assert.equal((await tokens.listTokens(ada)).length, 1);
        assert.equal(await tokens.expireToken(token.key), true);
        assert.equal(await tokens.authenticate(token.key), null);
      } finally {
        await client.close();
      }
    });
  }

  it('throws a TypeError for a user without an id', async () => {
    const tokens = repository();
    await assert.rejects(tokens.createToken({ id: '', name: 'x' }), TypeError);
    await assert.rejects(tokens.createToken({ name: 'x' } as unknown as User), TypeError);
    await assert.rejects(tokens.expireAllTokens(null as unknown as User), TypeError);
  });

  it('checks its options when constructed, before anything connects, with a TypeError naming the bad one', () => {
    // Each option's check is pinned in options.spec.ts; this pins that the constructor runs them.
    assert.throws(() => new MultiTokenRepository({ ttl: -1 }), (err: unknown) => err instanceof TypeError && err.message.startsWith('ttl'));
    assert.throws(() => new MultiTokenRepository({ keyPrefix: 'a{b}' }), (err: unknown) => err instanceof TypeError && err.message.startsWith('keyPrefix'));
  });

  it('throws a TypeError for bad token options, naming them', async () => {
    const tokens = repository();
    await assert.rejects(tokens.createToken(ada, { device: ['phone'] as unknown as string }), /^TypeError: device/);
    await assert.rejects(tokens.createToken(ada, { scopes: ['has space'] }), /scopes/);
    await assert.rejects(tokens.createToken(ada, { meta: { k: 1 as unknown as string } }), /meta/);
    await assert.rejects(tokens.createToken(ada, { meta: JSON.parse('{"__proto__": "x"}') as Record<string, string> }), /^TypeError: meta/);
    await assert.rejects(tokens.createToken(ada, { ttl: 0 }), /ttl/);
    await assert.rejects(tokens.expireToken(undefined), /expireToken/);
  });
});
