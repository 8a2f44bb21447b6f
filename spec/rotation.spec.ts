// Rotation (rotation.ts): a token swapped for a new one of the same device, the old one working
// through a grace period, and theft detection when a rotated-away token is used after it. Every
// behaviour on a standalone server and on a 3-master cluster; the cache and replicas on a
// standalone server of their own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Passport } from 'passport';
import { createClient, createCluster, type RedisClientType } from 'redis';
import {
  MultiTokenError,
  MultiTokenRepository,
  RedisMultiTokenStrategy,
  type MultiTokenRepositoryOptions,
  type RedisClientLike,
  type TokenExpiredEvent,
  type TokenReuseDetectedEvent,
  type TokenRotatedEvent,
} from '../src/index.js';
import { ROTATED_KEPT } from '../src/rotation.js';
import { generateToken, routingTag } from '../src/token.js';
import { call, listen, type RunningApp } from './support/http.js';
import { hashKeyOf } from './support/layout.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { startRedisServer, uniquePrefix, type RedisServer } from './support/redis-server.js';

interface User {
  id: string;
}

const ada: User = { id: 'ada' };
const INVALID_TOKEN = 'Bearer realm="Users", error="invalid_token"';
// Short grace periods, and a wait that outlasts them.
const GRACE = 0.3;
const PAST_GRACE_MS = 700;

/** The commands the specs read Redis with, on a standalone client or a cluster alike. */
interface Inspector {
  hLen(key: string): Promise<number>;
  exists(key: string): Promise<number>;
}

/** Resolves once `check` returns true, polling every 20 ms; rejects after `ms`. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** An Express 5 app with the strategy on `tokens`: GET /me answers 200 with the token info. */
function serve(tokens: MultiTokenRepository<User>): Promise<RunningApp> {
  const passport = new Passport();
  passport.use(new RedisMultiTokenStrategy({ repository: tokens }));
  const app = express();
  app.get('/me', passport.authenticate('redis-multi-token', { session: false }), (req, res) => {
    res.json({ token: req.authInfo });
  });
  app.use((err: Error & { statusCode?: number }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.statusCode ?? 500).json({ error: err.name });
  });
  return listen(app);
}

/** Every event of a repository, in order. */
function recordEvents(tokens: MultiTokenRepository<User>): {
  rotated: TokenRotatedEvent[];
  reused: TokenReuseDetectedEvent[];
  expired: TokenExpiredEvent[];
  created: number;
} {
  const events = { rotated: [] as TokenRotatedEvent[], reused: [] as TokenReuseDetectedEvent[], expired: [] as TokenExpiredEvent[], created: 0 };
  tokens.on('rotated', (event) => events.rotated.push(event));
  tokens.on('reuseDetected', (event) => events.reused.push(event));
  tokens.on('expired', (event) => events.expired.push(event));
  tokens.on('created', () => (events.created += 1));
  return events;
}

for (const kind of ['a standalone server', 'a 3-master cluster'] as const) {
  describe(`rotation on ${kind}`, () => {
    let server: RedisServer | undefined;
    let cluster: RedisCluster | undefined;
    let client: RedisClientLike;
    let inspect: Inspector;
    let disconnect = (): void => {};

    before(async () => {
      if (kind === 'a standalone server') {
        server = await startRedisServer();
        const standalone: RedisClientType = createClient({ url: server.url });
        await standalone.connect();
        client = standalone;
        inspect = standalone;
        disconnect = () => standalone.destroy();
      } else {
        cluster = await startRedisCluster();
        const clustered = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
        await clustered.connect();
        client = clustered;
        inspect = clustered;
        disconnect = () => clustered.destroy();
      }
    });

    after(async () => {
      disconnect();
      await server?.stop();
      await cluster?.stop();
    });

    function repository(options: MultiTokenRepositoryOptions<User> = {}): { tokens: MultiTokenRepository<User>; prefix: string } {
      const prefix = uniquePrefix('rotation');
      return { tokens: new MultiTokenRepository<User>({ redis: client, keyPrefix: prefix, ...options }), prefix };
    }

    it('issues a new token with the same device, scopes and meta and a fresh lifetime, emits rotated, and creates no device', async () => {
      const { tokens } = repository({ ttl: 3600 });
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada, { device: 'phone', scopes: ['read', 'write'], meta: { os: 'ios' } });
      const found = await tokens.authenticate(token.key);
      assert.ok(found !== null);
      const rotated = await tokens.rotateToken(found.token, { ttl: 60 });
      assert.ok(rotated !== null);
      const fresh = rotated.token;
      assert.notEqual(fresh.key, token.key);
      assert.notEqual(fresh.id, token.id);
      assert.equal(fresh.userId, 'ada');
      assert.deepEqual(fresh.user, ada);
      assert.equal(fresh.device, 'phone');
      assert.deepEqual(fresh.scopes, ['read', 'write']);
      assert.deepEqual(fresh.meta, { os: 'ios' });
      assert.equal(fresh.expiresAt!.getTime() - fresh.createdAt.getTime(), 60_000);
      assert.deepEqual(events.rotated, [{ userId: 'ada', oldId: token.id, newId: fresh.id, family: token.id }]);
      assert.equal(events.created, 1, 'a rotation is no login');
      const verified = await tokens.authenticate(fresh.key);
      assert.equal(verified?.token.id, fresh.id);
      assert.equal(verified?.token.device, 'phone');
      assert.deepEqual(verified?.token.scopes, ['read', 'write']);
      // The token from rotateToken is token info the package produced: it can log out.
      assert.equal(await tokens.expireToken(fresh), true);
      assert.equal(await tokens.authenticate(token.key), null, 'the old token left with its device');
    });

    it('answers 20 requests with the old token, in flight while it is rotated, all with 200', async () => {
      let entered = 0;
      let release = (): void => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      let gated = false;
      let rotating = false;
      const { tokens } = repository({
        findUser: async (id) => {
          // Only the requests wait at the gate; rotateToken looks its user up too.
          if (gated && !rotating) {
            entered += 1;
            await gate;
          }
          return { id };
        },
      });
      const app = await serve(tokens);
      try {
        const { token } = await tokens.createToken(ada, { device: 'phone' });
        assert.equal((await call(`${app.url}/me`, { token: token.key })).status, 200);
        gated = true;
        // Ten have read the token's record before the rotation, ten read it after; all wait for
        // the gate, so all twenty are in flight across the rotation.
        const early = Array.from({ length: 10 }, () => call(`${app.url}/me`, { token: token.key }));
        await until('ten requests to read the old record', () => entered === 10);
        rotating = true;
        const rotated = await tokens.rotateToken(token.key);
        rotating = false;
        assert.ok(rotated !== null);
        const late = Array.from({ length: 10 }, () => call(`${app.url}/me`, { token: token.key }));
        await until('ten more requests to read the rotated-away record', () => entered === 20);
        release();
        const answers = await Promise.all([...early, ...late]);
        assert.deepEqual(
          answers.map((answer) => answer.status),
          Array.from({ length: 20 }, () => 200),
        );
        gated = false;
        assert.equal((await call(`${app.url}/me`, { token: rotated.token.key })).status, 200);
      } finally {
        release();
        await app.close();
      }
    });

    it('after the grace, answers the old token with 401 and the new one with 401 too, fires reuseDetected once, and leaves the other devices alone', async () => {
      const { tokens, prefix } = repository();
      const events = recordEvents(tokens);
      const app = await serve(tokens);
      try {
        const phone = (await tokens.createToken(ada, { device: 'phone' })).token;
        const laptop = (await tokens.createToken(ada, { device: 'laptop' })).token;
        const laptopNext = (await tokens.rotateToken(laptop.key))!.token;
        const second = (await tokens.rotateToken(phone.key, { grace: GRACE }))!.token;
        const third = (await tokens.rotateToken(second.key, { grace: GRACE }))!.token;
        await sleep(PAST_GRACE_MS);

        const old = await call(`${app.url}/me`, { token: phone.key });
        assert.equal(old.status, 401);
        assert.equal(old.challenge, INVALID_TOKEN);
        assert.deepEqual(events.reused, [{ userId: 'ada', family: phone.id, id: phone.id }]);
        assert.deepEqual(
          events.expired.filter((event) => event.reason === 'reuse'),
          [{ reason: 'reuse', userId: 'ada', ids: [third.id] }],
        );
        for (const key of [third.key, second.key, phone.key]) {
          const res = await call(`${app.url}/me`, { token: key });
          assert.equal(res.status, 401);
          assert.equal(res.challenge, INVALID_TOKEN);
        }
        assert.equal(events.reused.length, 1, 'reuseDetected fires once');
        // The other family, the laptop, is untouched: its head and its old token in its grace.
        assert.equal((await call(`${app.url}/me`, { token: laptopNext.key })).status, 200);
        assert.equal((await call(`${app.url}/me`, { token: laptop.key })).status, 200);
        assert.deepEqual(
          (await tokens.listTokens(ada)).map((token) => token.id),
          [laptopNext.id],
        );
        assert.equal(await inspect.hLen(hashKeyOf(prefix, 'ada')), 2, 'the phone family left nothing behind');
      } finally {
        await app.close();
      }
    });

    it('never detects a reuse inside the grace, and the new token keeps working', async () => {
      const { tokens } = repository();
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const fresh = (await tokens.rotateToken(token.key, { grace: 30 }))!.token;
      for (let i = 0; i < 5; i++) {
        assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
        assert.equal((await tokens.authenticate(fresh.key))?.token.id, fresh.id);
      }
      // A token has one successor: rotating the old one again, in its grace, issues nothing.
      assert.equal(await tokens.rotateToken(token.key), null);
      assert.deepEqual(events.reused, []);
      assert.equal(events.rotated.length, 1);
      // One device, marked current whichever of its two tokens asks.
      for (const current of [token.key, fresh.key]) {
        const listed = await tokens.listTokens(ada, { current });
        assert.deepEqual(
          listed.map((entry) => [entry.id, entry.device, entry.current]),
          [[fresh.id, 'phone', true]],
        );
      }
      assert.equal((await tokens.authenticate(fresh.key))?.token.id, fresh.id);
    });

    it('resolves rotating a revoked, unknown or malformed token to null, and issues nothing', async () => {
      const { tokens, prefix } = repository();
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const kept = (await tokens.createToken(ada, { device: 'laptop' })).token;
      const info = (await tokens.authenticate(token.key))!.token;
      assert.equal(await tokens.expireToken(token.key), true);
      const key = hashKeyOf(prefix, 'ada');
      assert.equal(await inspect.hLen(key), 1);
      assert.equal(await tokens.rotateToken(token.key), null);
      assert.equal(await tokens.rotateToken(info), null);
      assert.equal(await tokens.rotateToken(generateToken('rmt', routingTag('ada'))), null);
      assert.equal(await tokens.rotateToken('rmt_not-a-token'), null);
      assert.equal(await inspect.hLen(key), 1, 'nothing was issued');
      assert.deepEqual(events.rotated, []);
      assert.equal((await tokens.authenticate(kept.key))?.token.id, kept.id);
      await assert.rejects(tokens.rotateToken({ id: kept.id, userId: 'ada' }), TypeError);
      await assert.rejects(tokens.rotateToken(kept.key, { grace: -1 }), /^TypeError: grace/);
    });

    it('leaves no family member and no rotated-away token that could authenticate after expireAllTokens', async () => {
      const { tokens, prefix } = repository();
      const events = recordEvents(tokens);
      const phone = [(await tokens.createToken(ada, { device: 'phone' })).token];
      for (let i = 0; i < 3; i++) phone.push((await tokens.rotateToken(phone.at(-1)!.key, { grace: i === 0 ? GRACE : 30 }))!.token);
      const laptop = [(await tokens.createToken(ada, { device: 'laptop' })).token];
      laptop.push((await tokens.rotateToken(laptop[0]!.key, { grace: 30 }))!.token);
      const other = (await tokens.createToken({ id: 'grace' })).token;
      await sleep(PAST_GRACE_MS); // the phone's first token is past its grace, kept for detection

      assert.equal(await tokens.expireAllTokens(ada), 2, 'one per device');
      const logoutAll = events.expired.at(-1)!;
      assert.deepEqual({ ...logoutAll, ids: [...logoutAll.ids].sort() }, { reason: 'logout-all', userId: 'ada', ids: [phone.at(-1)!.id, laptop.at(-1)!.id].sort() });
      for (const token of [...phone, ...laptop]) assert.equal(await tokens.authenticate(token.key), null);
      assert.deepEqual(events.reused, [], 'nothing was left to be reused');
      assert.equal(await inspect.exists(hashKeyOf(prefix, 'ada')), 0);
      assert.equal((await tokens.authenticate(other.key))?.user.id, 'grace');
    });

    it('logs the whole device out through its old token in the grace, and keeps its family on logout-others', async () => {
      const { tokens } = repository();
      const phone = (await tokens.createToken(ada, { device: 'phone' })).token;
      const phoneNext = (await tokens.rotateToken(phone.key))!.token;
      const laptop = (await tokens.createToken(ada, { device: 'laptop' })).token;
      const tablet = (await tokens.createToken(ada, { device: 'tablet' })).token;
      const oldInfo = (await tokens.authenticate(phone.key))!.token;
      assert.equal(await tokens.expireOtherTokens(ada, oldInfo), 2);
      assert.equal((await tokens.authenticate(phoneNext.key))?.token.id, phoneNext.id);
      assert.equal(await tokens.authenticate(laptop.key), null);
      assert.equal(await tokens.authenticate(tablet.key), null);

      const events = recordEvents(tokens);
      assert.equal(await tokens.expireToken(oldInfo), true);
      assert.deepEqual(events.expired, [{ reason: 'logout', userId: 'ada', ids: [phone.id, phoneNext.id] }]);
      assert.equal(await tokens.authenticate(phoneNext.key), null);
      assert.equal(await tokens.authenticate(phone.key), null);
      assert.deepEqual(await tokens.listTokens(ada), []);
    });

    it('never evicts on a rotation, never counts rotated-away tokens as devices, and evicts a device with its family', async () => {
      const { tokens, prefix } = repository({ maxTokensPerUser: 2 });
      const events = recordEvents(tokens);
      const laptop = [(await tokens.createToken(ada, { device: 'laptop' })).token];
      const phone = (await tokens.createToken(ada, { device: 'phone' })).token;
      // The laptop's last token lives shortest, so the next login evicts the laptop.
      for (let i = 0; i < 3; i++) laptop.push((await tokens.rotateToken(laptop.at(-1)!.key, { ttl: i === 2 ? 60 : undefined }))!.token);
      assert.equal(events.expired.length, 0, 'a rotation evicted a device');
      assert.deepEqual((await tokens.listTokens(ada)).map((token) => token.device), ['laptop', 'phone']);
      assert.equal(await inspect.hLen(hashKeyOf(prefix, 'ada')), 5);

      const tablet = await tokens.createToken(ada, { device: 'tablet' });
      assert.equal(tablet.first, false);
      assert.deepEqual(events.expired, [{ reason: 'evicted', userId: 'ada', ids: [laptop.at(-1)!.id] }]);
      assert.equal(await inspect.hLen(hashKeyOf(prefix, 'ada')), 2, "the laptop's rotated-away tokens went with it");
      for (const token of laptop) assert.equal(await tokens.authenticate(token.key), null);
      assert.equal((await tokens.authenticate(phone.key))?.token.id, phone.id);
      assert.deepEqual(events.reused, []);
    });

    it(`keeps the newest ${ROTATED_KEPT} rotated-away tokens of a family; an older one is unknown, a kept one is a reuse`, async () => {
      const { tokens, prefix } = repository();
      const events = recordEvents(tokens);
      const chain = [(await tokens.createToken(ada, { device: 'phone' })).token];
      for (let i = 0; i < ROTATED_KEPT + 2; i++) chain.push((await tokens.rotateToken(chain.at(-1)!.key, { grace: 0 }))!.token);
      assert.equal(await inspect.hLen(hashKeyOf(prefix, 'ada')), 1 + ROTATED_KEPT);
      // Grace 0: the rotated-away tokens are refused at once. The two oldest were dropped.
      assert.equal(await tokens.authenticate(chain[0]!.key), null);
      assert.equal(await tokens.authenticate(chain[1]!.key), null);
      assert.deepEqual(events.reused, []);
      assert.equal((await tokens.authenticate(chain.at(-1)!.key))?.token.id, chain.at(-1)!.id);
      assert.equal(await tokens.authenticate(chain[2]!.key), null);
      assert.deepEqual(events.reused, [{ userId: 'ada', family: chain[0]!.id, id: chain[2]!.id }]);
      assert.equal(await tokens.authenticate(chain.at(-1)!.key), null);
    });

    it('treats rotating a rotated-away token after its grace as a reuse', async () => {
      const { tokens } = repository();
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const fresh = (await tokens.rotateToken(token.key, { grace: GRACE }))!.token;
      await sleep(PAST_GRACE_MS);
      assert.equal(await tokens.rotateToken(token.key), null);
      assert.deepEqual(events.reused, [{ userId: 'ada', family: token.id, id: token.id }]);
      assert.equal(await tokens.authenticate(fresh.key), null);
    });

    it('with reuseDetection off, lets a rotated-away token die at the end of its grace and keeps the family', async () => {
      const { tokens, prefix } = repository({ reuseDetection: false });
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const fresh = (await tokens.rotateToken(token.key, { grace: GRACE }))!.token;
      assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
      await sleep(PAST_GRACE_MS);
      assert.equal(await tokens.authenticate(token.key), null);
      assert.equal((await tokens.authenticate(fresh.key))?.token.id, fresh.id);
      assert.deepEqual(events.reused, []);
      await tokens.listTokens(ada); // a write script prunes the dead
      assert.equal(await inspect.hLen(hashKeyOf(prefix, 'ada')), 1);
    });
  });
}

describe('rotation with client-side caching and replicas', () => {
  let master: RedisServer;

  before(async () => {
    master = await startRedisServer();
  });

  after(async () => {
    await master.stop();
  });

  it('honours a family revocation made by another process in a caching process, within the fence', async () => {
    const cached = createClient({ url: master.url, RESP: 3, clientSideCache: { ttl: 0, maxEntries: 1000 } });
    const plain: RedisClientType = createClient({ url: master.url });
    await cached.connect();
    await plain.connect();
    try {
      const prefix = uniquePrefix('rotation-cache');
      const reader = new MultiTokenRepository<User>({ redis: cached, keyPrefix: prefix });
      const writer = new MultiTokenRepository<User>({ redis: plain, keyPrefix: prefix });
      const events = recordEvents(writer);
      const { token } = await writer.createToken(ada);
      const fresh = (await writer.rotateToken(token.key, { grace: GRACE }))!.token;
      assert.equal((await reader.authenticate(fresh.key))?.token.id, fresh.id);
      assert.equal((await reader.authenticate(fresh.key))?.token.id, fresh.id, 'served again, from the cache');
      await sleep(PAST_GRACE_MS);
      assert.equal(await writer.authenticate(token.key), null);
      assert.equal(events.reused.length, 1);
      // The fence bounds the lag at 100 ms; allow a loaded machine far more, but not forever.
      await until('the caching process to refuse the revoked family', async () => (await reader.authenticate(fresh.key)) === null, 5000);
      assert.equal(await reader.authenticate(token.key), null);
    } finally {
      cached.destroy();
      plain.destroy();
    }
  });

  it('undoes a rotation whose wait fails: no successor is left, the old token keeps working, and a retry is safe', async () => {
    // A master with no replica: every WAIT 1 comes back short.
    const client: RedisClientType = createClient({ url: master.url });
    client.on('error', () => {});
    await client.connect();
    const keyPrefix = uniquePrefix('rotation-undo');
    const plain = new MultiTokenRepository<User>({ redis: client, keyPrefix });
    let tokens: MultiTokenRepository<User> | undefined;
    try {
      const { token } = await plain.createToken(ada);
      const hash = hashKeyOf(keyPrefix, ada.id);
      const before = await client.hGetAll(hash);
      tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix, replicas: 1, timeout: 500 });
      const events = recordEvents(tokens);
      const short = (err: unknown): boolean => err instanceof MultiTokenError && err.code === 'ERR_MULTITOKEN_REPLICAS';
      await assert.rejects(tokens.rotateToken(token.key, { grace: GRACE }), short);
      assert.deepEqual(await client.hGetAll(hash), before, 'the successor is gone and the old record is back');
      await sleep(PAST_GRACE_MS);
      assert.notEqual(await plain.authenticate(token.key), null, 'the old token works past what would have been its grace');
      await assert.rejects(tokens.rotateToken(token.key, { grace: GRACE }), short);
      assert.notEqual(await plain.authenticate(token.key), null, 'a retry is safe');
      assert.deepEqual(events.reused, []);
    } finally {
      await tokens?.close();
      client.destroy();
    }
  });

  it('sends a family revocation through the replicated write path: it waits for the replica like any revocation', async () => {
    const replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
    const watch: RedisClientType = createClient({ url: replica.url });
    await watch.connect();
    const client: RedisClientType = createClient({ url: master.url });
    client.on('error', () => {});
    await client.connect();
    let tokens: MultiTokenRepository<User> | undefined;
    try {
      await until('the replica to sync', async () => /master_link_status:up/.test(await watch.info('replication')));
      tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('rotation-replicas'), replicas: 1, timeout: 800 });
      const events = recordEvents(tokens);
      const { token } = await tokens.createToken(ada);
      const fresh = (await tokens.rotateToken(token.key, { grace: GRACE }))!.token;
      await sleep(PAST_GRACE_MS);
      replica.freeze();
      await assert.rejects(tokens.authenticate(token.key), (err: unknown) => err instanceof MultiTokenError && err.code === 'ERR_MULTITOKEN_REPLICAS');
      replica.thaw();
      // The master applied it: the family is gone, and no second detection follows.
      assert.equal(await tokens.authenticate(fresh.key), null);
      assert.equal(await tokens.authenticate(token.key), null);
      assert.deepEqual(events.reused, []);
    } finally {
      // Closes the connection it opened for replicated writes.
      await tokens?.close();
      replica.thaw();
      client.destroy();
      watch.destroy();
      await replica.stop();
    }
  });
});
