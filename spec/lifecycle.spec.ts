import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import express from 'express';
import passport from 'passport';
import {
  MultiTokenRepository,
  RedisMultiTokenStrategy,
  type MultiTokenRepositoryOptions,
  type TokenCreatedEvent,
  type TokenExpiredEvent,
} from '../src/index.js';
import { call, listen } from './support/http.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

const ada: User = { id: 'ada' };
const grace: User = { id: 'grace' };

const shared = sharedRedis();

function repository(options: MultiTokenRepositoryOptions<User> = {}): { tokens: MultiTokenRepository<User>; prefix: string } {
  const prefix = uniquePrefix('life');
  return { tokens: new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, ...options }), prefix };
}


function recorder(tokens: MultiTokenRepository<User>): { created: TokenCreatedEvent[]; expired: TokenExpiredEvent[] } {
  const seen = { created: [] as TokenCreatedEvent[], expired: [] as TokenExpiredEvent[] };
  tokens.on('created', (event) => seen.created.push(event));
  tokens.on('expired', (event) => seen.expired.push(event));
  return seen;
}

describe('device metadata and listTokens', () => {
  it('keeps device, meta, scopes and times per token, and lists live tokens newest first without keys', async () => {
    const { tokens } = repository();
    const phone = (await tokens.createToken(ada, { device: 'phone', meta: { os: 'ios', app: '3.1' } })).token;
    await sleep(5);
    const laptop = (await tokens.createToken(ada, { device: 'x'.repeat(300), scopes: ['read'] })).token;
    await tokens.createToken(grace);

    const list = await tokens.listTokens(ada, { current: phone.key });
    assert.deepEqual(list.map((t) => t.id), [laptop.id, phone.id]);
    assert.deepEqual(list.map((t) => t.current), [false, true]);
    assert.equal(list[1]!.device, 'phone');
    assert.deepEqual(list[1]!.meta, { os: 'ios', app: '3.1' });
    assert.equal(list[0]!.device, 'x'.repeat(256), 'a long device label is cut to 256 characters');
    assert.deepEqual(list[0]!.scopes, ['read']);
    for (const entry of list) {
      assert.equal('key' in entry, false);
      assert.ok(entry.createdAt instanceof Date && entry.lastUsedAt instanceof Date && entry.expiresAt instanceof Date);
    }
    const byAuthInfo = await tokens.listTokens(ada, { current: laptop });
    assert.deepEqual(byAuthInfo.map((t) => t.current), [true, false]);
  });

  it('turns control characters of a device label, such as a tab in a User-Agent, into spaces', async () => {
    const { tokens } = repository();
    const { token } = await tokens.createToken(ada, { device: 'Mozilla/5.0\t(X11)\u0000x' });
    assert.equal(token.device, 'Mozilla/5.0 (X11) x');
    assert.equal((await tokens.authenticate(token.key))?.token.device, 'Mozilla/5.0 (X11) x');
  });
});

describe('revocation', () => {
  it('expireOtherTokens leaves only the current token working', async () => {
    const { tokens } = repository();
    const seen = recorder(tokens);
    const issued = await Promise.all([1, 2, 3, 4].map(() => tokens.createToken(ada)));
    const other = (await tokens.createToken(grace)).token;
    const current = issued[2]!.token;
    const info = (await tokens.authenticate(current.key))!.token;

    assert.equal(await tokens.expireOtherTokens(ada, info), 3);
    for (const { token } of issued) {
      assert.equal((await tokens.authenticate(token.key)) !== null, token.id === current.id);
    }
    assert.notEqual(await tokens.authenticate(other.key), null);
    assert.deepEqual((await tokens.listTokens(ada)).map((t) => t.id), [current.id]);
    assert.equal(seen.expired.at(-1)!.reason, 'logout-others');
    assert.equal(seen.expired.at(-1)!.ids.length, 3);

    const again = await tokens.createToken(ada);
    assert.equal(await tokens.expireOtherTokens(ada, current.key), 1, 'by key too');
    assert.equal(await tokens.authenticate(again.token.key), null);
    assert.notEqual(await tokens.authenticate(current.key), null);
    await assert.rejects(tokens.expireOtherTokens(ada, other), /^TypeError: current belongs to another user/);
    await assert.rejects(tokens.expireOtherTokens(ada, { id: current.id, userId: 'ada' }), /^TypeError: expireOtherTokens .*expireTokenById/);
    assert.notEqual(await tokens.authenticate(current.key), null);
  });

  it('expireTokenById kills exactly one token, and only the user\'s own', async () => {
    const { tokens } = repository();
    const seen = recorder(tokens);
    const a = (await tokens.createToken(ada)).token;
    const b = (await tokens.createToken(ada)).token;
    const g = (await tokens.createToken(grace)).token;

    assert.equal(await tokens.expireTokenById(ada, g.id), false, 'not another user\'s token');
    assert.notEqual(await tokens.authenticate(g.key), null);
    assert.equal(await tokens.expireTokenById(ada, a.id), true);
    assert.equal(await tokens.authenticate(a.key), null);
    assert.notEqual(await tokens.authenticate(b.key), null);
    assert.equal(await tokens.expireTokenById(ada, a.id), false);
    assert.equal(await tokens.expireTokenById(ada, 'not an id'), false);
    assert.deepEqual(seen.expired, [{ reason: 'revoked', userId: 'ada', ids: [a.id] }]);
  });

  it('reports a logout by key with its owner', async () => {
    const { tokens } = repository();
    const seen = recorder(tokens);
    const { token } = await tokens.createToken(ada, { device: 'phone' });
    assert.deepEqual(seen.created, [{ id: token.id, userId: 'ada', device: 'phone', first: true }]);
    await tokens.expireToken(token.key);
    assert.deepEqual(seen.expired, [{ reason: 'logout', userId: 'ada', ids: [token.id] }]);
  });
});

describe('maxTokensPerUser', () => {
  it('leaves exactly the cap after 20 concurrent logins, and reports the evicted', async () => {
    const { tokens } = repository({ maxTokensPerUser: 3 });
    const seen = recorder(tokens);
    const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => tokens.createToken(ada, { device: `d${i}` })));

    const alive = [];
    for (const { token } of issued) if ((await tokens.authenticate(token.key)) !== null) alive.push(token.id);
    assert.equal(alive.length, 3);
    const listed = await tokens.listTokens(ada);
    assert.deepEqual(listed.map((t) => t.id).sort(), alive.sort());

    const evicted = seen.expired.filter((e) => e.reason === 'evicted').flatMap((e) => e.ids);
    assert.equal(evicted.length, 17);
    assert.deepEqual(
      [...evicted, ...alive].sort(),
      issued.map((i) => i.token.id).sort(),
      'every token is either alive or reported evicted',
    );
  });

  it('evicts the oldest first and never the new login', async () => {
    const { tokens } = repository({ maxTokensPerUser: 2 });
    const first = (await tokens.createToken(ada)).token;
    await sleep(3);
    const second = (await tokens.createToken(ada)).token;
    await sleep(3);
    // A short-lived new token is still the one kept: a login is never refused.
    const third = (await tokens.createToken(ada, { ttl: 60 })).token;
    assert.equal(await tokens.authenticate(first.key), null);
    assert.notEqual(await tokens.authenticate(second.key), null);
    assert.notEqual(await tokens.authenticate(third.key), null);
  });
});

describe('expiry', () => {
  it('lets a per-token ttl override the global one, and null mean no expiry', async () => {
    const { tokens, prefix } = repository({ ttl: 3600 });
    const short = (await tokens.createToken(ada, { ttl: 0.3 })).token;
    const forever = (await tokens.createToken(ada, { ttl: null })).token;
    const usual = (await tokens.createToken(ada)).token;

    assert.equal(usual.expiresAt!.getTime() - usual.createdAt.getTime(), 3600 * 1000);
    assert.equal(short.expiresAt!.getTime() - short.createdAt.getTime(), 300);
    assert.equal(forever.expiresAt, null);
    const hash = hashKeyOf(prefix, ada.id);
    assert.equal(await shared.client.pTTL(hash), -1, 'while a token without ttl lives, its hash has no Redis expiry');

    await sleep(400);
    assert.equal(await tokens.authenticate(short.key), null);
    assert.notEqual(await tokens.authenticate(forever.key), null);
    assert.notEqual(await tokens.authenticate(usual.key), null);
    assert.equal((await tokens.listTokens(ada)).length, 2);
    assert.equal(await tokens.expireTokenById(ada, forever.id), true);
    const left = await shared.client.pTTL(hash);
    assert.ok(left > 3500 * 1000 && left <= 3600 * 1000, `the hash lives as long as its longest-lived token: ${left} ms`);

    const never = repository({ ttl: null }).tokens;
    assert.equal((await never.createToken(ada)).token.expiresAt, null);
  });

  it('kills a token left idle past idleTimeout, keys and all, and keeps a busy one alive', async () => {
    const { tokens, prefix } = repository({ idleTimeout: 0.6, touchInterval: 0.1 });
    const idle = (await tokens.createToken(ada)).token;
    const busy = (await tokens.createToken(grace)).token;
    assert.notEqual(await tokens.authenticate(idle.key), null);

    for (let i = 0; i < 8; i++) {
      await sleep(150);
      assert.notEqual(await tokens.authenticate(busy.key), null, 'a token in use stays alive past idleTimeout');
    }
    assert.equal(await tokens.authenticate(idle.key), null);
    assert.equal(await shared.client.exists(hashKeyOf(prefix, ada.id)), 0, 'the idle user\'s hash expired by itself');
    assert.deepEqual(await shared.client.hKeys(hashKeyOf(prefix, grace.id)), [busy.id]);
  });

  it('never lets idle use extend a token past its absolute ttl', async () => {
    const { tokens, prefix } = repository({ ttl: 1.5, idleTimeout: 10, touchInterval: 0 });
    const { token } = await tokens.createToken(ada);
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      // Each use is recorded, yet the end of life stays the absolute expiry.
      assert.notEqual(await tokens.authenticate(token.key), null);
      const left = await shared.client.pExpireTime(hashKeyOf(prefix, ada.id));
      assert.equal(left, token.expiresAt!.getTime(), 'the hash lives no longer than the token\'s ttl');
    }
    await sleep(Math.max(0, token.expiresAt!.getTime() - Date.now()) + 50);
    assert.equal(await tokens.authenticate(token.key), null);
  });
});

describe('scopes on a real Express route', () => {
  it('answers 200, 403 with the required scope in the challenge, and 200 for *', async () => {
    const { tokens } = repository();
    const web = express();
    const strategy = new RedisMultiTokenStrategy({ repository: tokens, name: 'life-scopes' });
    passport.use(strategy);
    web.get('/read', passport.authenticate('life-scopes', { scope: 'read' }), (req, res) => res.json(req.authInfo));
    web.get('/write', passport.authenticate('life-scopes', { scope: ['read', 'write'] }), (req, res) => res.json(req.authInfo));
    const app = await listen(web);
    try {
      const reader = (await tokens.createToken(ada, { scopes: ['read'] })).token.key;
      const writer = (await tokens.createToken(ada, { scopes: ['read', 'write'] })).token.key;
      const all = (await tokens.createToken(ada)).token.key;

      const ok = await call(`${app.url}/read`, { token: reader });
      assert.equal(ok.status, 200);
      assert.deepEqual((JSON.parse(ok.body) as { scopes: string[] }).scopes, ['read']);

      const refused = await call(`${app.url}/write`, { token: reader });
      assert.equal(refused.status, 403);
      assert.equal(refused.challenge, 'Bearer realm="Users", scope="read write", error="insufficient_scope"');

      assert.equal((await call(`${app.url}/write`, { token: writer })).status, 200);
      const star = await call(`${app.url}/write`, { token: all });
      assert.equal(star.status, 200);
      assert.deepEqual((JSON.parse(star.body) as { scopes: string[] }).scopes, ['*']);
    } finally {
      await app.close();
    }
  });
});

describe('secret rotation', () => {
  const A = 'pepper A, long enough to count';
  const B = 'pepper B, long enough to count';

  it('keeps tokens of an older secret working while it is listed, and revokes them when it is not', async () => {
    const prefix = uniquePrefix('rotate');
    const make = (secret: string | string[]): MultiTokenRepository<User> => new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, secret });

    const old = (await make(A).createToken(ada)).token;
    const rotated = make([B, A]);
    assert.notEqual(await rotated.authenticate(old.key), null);
    const fresh = (await rotated.createToken(ada)).token;
    assert.equal((await rotated.createToken(grace)).first, true);

    const onlyB = make([B]);
    assert.equal(await onlyB.authenticate(old.key), null, 'a secret taken off the list revokes its tokens');
    assert.notEqual(await onlyB.authenticate(fresh.key), null, 'new tokens use the first secret');
    assert.equal(await make([A]).authenticate(fresh.key), null);

    // Logout-all still finds tokens of every secret: the routing tag does not depend on it.
    assert.equal(await rotated.expireAllTokens(ada), 2);
    assert.equal(await rotated.authenticate(old.key), null);
  });

  it('logs out a token of an older secret by its key', async () => {
    const prefix = uniquePrefix('rotate');
    const old = (await new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, secret: A }).createToken(ada)).token;
    const rotated = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, secret: [B, A] });
    assert.equal(await rotated.expireToken(old.key), true);
    assert.equal(await rotated.authenticate(old.key), null);
  });
});

describe('the hash of a routing tag', () => {
  it('holds only live ids after 10,000 create and expire cycles for one user', async () => {
    const { tokens, prefix } = repository();
    const keep = [];
    for (let i = 0; i < 10_000; i++) {
      const { token } = await tokens.createToken(ada);
      if (i % 2000 === 0) keep.push(token.id);
      else await tokens.expireToken(token);
    }
    assert.deepEqual((await shared.client.hKeys(hashKeyOf(prefix, ada.id))).sort(), keep.sort());
    assert.deepEqual(await shared.keysUnder(prefix), [hashKeyOf(prefix, ada.id)]);
  });

  it('drops the fields of expired tokens on the next write', async () => {
    const { tokens, prefix } = repository();
    await tokens.createToken(ada, { ttl: 0.1 });
    await tokens.createToken(ada, { ttl: 0.1 });
    await sleep(200);
    const live = (await tokens.createToken(ada)).token;
    assert.deepEqual(await shared.client.hKeys(hashKeyOf(prefix, ada.id)), [live.id]);
  });
});
