import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import passport from 'passport';
import { createClient, type RedisClientType } from 'redis';
import {
  MultiToken,
  MultiTokenRepository,
  RedisMultiTokenStrategy,
  type BearerRequest,
  type TokenInfo,
} from '../src/index.js';
import { commandCount } from './support/commands.js';
import { call, listen, type RunningApp } from './support/http.js';
import { startRedisServer, uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';
import { users, type User } from './support/users.js';

const shared = sharedRedis();
let app: RunningApp;
let scoped: MultiTokenRepository<User>;
const routeOptions: { scope: string; session?: boolean } = { scope: 'read' };

function errorHandler(err: Error & { statusCode?: number }, _req: Request, res: Response, _next: NextFunction): void {
  res.status(err.statusCode ?? 500).json({ code: (err as { code?: string }).code });
}

shared.before(async () => {
  // The default MultiToken reads REDIS_URL on first use: this is the zero-config path.
  process.env.REDIS_URL = shared.server.url;
  scoped = new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: uniquePrefix('scoped'), findUser: (id) => users.get(id) ?? null });

  passport.use(new RedisMultiTokenStrategy());
  passport.use('both-places', new RedisMultiTokenStrategy({ tokenFrom: ['header', 'body', 'query'] }));
  passport.use('scoped', new RedisMultiTokenStrategy({ repository: scoped, realm: 'api "v1"' }));
  passport.use(
    'verified',
    new RedisMultiTokenStrategy({ repository: scoped }, (user: User, token: TokenInfo, done) =>
      done(null, user.name === 'linus' ? false : { ...user, via: token.device }),
    ),
  );
  passport.use(
    'verified-async',
    new RedisMultiTokenStrategy({ repository: scoped, passReqToCallback: true }, async (req: BearerRequest, user: User) =>
      req.headers['x-block'] === 'yes' ? false : user,
    ),
  );
  passport.use(
    'verified-plain',
    new RedisMultiTokenStrategy({ repository: scoped }, (user: User) => (user.name === 'linus' ? false : user)),
  );
  passport.use(
    'verified-forgetful',
    // Names `done` but never calls it: the request must still get an answer.
    new RedisMultiTokenStrategy({ repository: scoped }, async (_user: User, _token: TokenInfo, _done) => {}),
  );

  const web = express();
  web.use(express.json());
  web.use(express.urlencoded({ extended: false }));
  web.post('/login', async (req, res) => {
    const user = users.get(String(req.body.userId));
    const { token, first } = await MultiToken.createToken(user, { device: req.get('user-agent') });
    res.json({ token: token.key, firstDevice: first });
  });
  web.get('/me', passport.authenticate('redis-multi-token'), (req, res) => {
    res.json({ user: req.user, authInfo: req.authInfo });
  });
  web.post('/logout', passport.authenticate('redis-multi-token'), async (req, res) => {
    await MultiToken.expireToken(req.authInfo);
    res.sendStatus(204);
  });
  web.post('/logout-all', passport.authenticate('redis-multi-token'), async (req, res) => {
    await MultiToken.expireAllTokens(req.user);
    res.sendStatus(204);
  });
  web.all('/anywhere', passport.authenticate('both-places'), (req, res) => {
    res.json({ user: req.user });
  });
  web.get('/scoped/read', passport.authenticate('scoped', { scope: 'read' }), (req, res) => res.json(req.authInfo));
  web.get('/scoped/admin', passport.authenticate('scoped', { scope: ['admin', 'write'] }), (req, res) => res.json(req.authInfo));
  web.get('/verified', passport.authenticate('verified'), (req, res) => res.json(req.user));
  web.get('/verified-async', passport.authenticate('verified-async'), (req, res) => res.json(req.user));
  web.get('/verified-plain', passport.authenticate('verified-plain'), (req, res) => res.json(req.user));
  web.get('/verified-forgetful', passport.authenticate('verified-forgetful'), (req, res) => res.json(req.user));
  web.get('/route-options', passport.authenticate('redis-multi-token', routeOptions), (req, res) => res.json(req.user));
  web.use(errorHandler);
  app = await listen(web);
});

shared.after(async () => {
  await app.close();
  await MultiToken.close();
});

beforeEach(async () => {
  await MultiToken.expireAllTokens({ id: '1' });
  await MultiToken.expireAllTokens({ id: '2' });
});

async function login(userId: string, device = 'spec-agent'): Promise<{ token: string; firstDevice: boolean }> {
  const res = await fetch(`${app.url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': device },
    body: JSON.stringify({ userId }),
  });
  assert.equal(res.status, 200);
  return (await res.json()) as { token: string; firstDevice: boolean };
}

describe('RedisMultiTokenStrategy on Express 5, with the default MultiToken and no session option', () => {
  it('authenticates a fresh token as its user, with the token info (and no key) in req.authInfo', async () => {
    const { token } = await login('1', 'phone');
    const res = await call(`${app.url}/me`, { token });
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body) as { user: User; authInfo: Record<string, unknown> };
    assert.deepEqual(body.user, { id: '1' });
    assert.equal(body.authInfo.userId, '1');
    assert.equal(body.authInfo.device, 'phone');
    assert.match(String(body.authInfo.id), /^[A-Za-z0-9_-]{22}$/);
    assert.equal(res.body.includes(token), false, 'the key never comes back');
  });

  it('logs out one device and leaves the other device working', async () => {
    const phone = (await login('1', 'phone')).token;
    const laptop = (await login('1', 'laptop')).token;
    assert.equal((await call(`${app.url}/logout`, { method: 'POST', token: phone })).status, 204);
    assert.equal((await call(`${app.url}/me`, { token: phone })).status, 401);
    assert.equal((await call(`${app.url}/me`, { token: laptop })).status, 200);
  });

  it('logs out every device of that user and no one else\'s', async () => {
    const phone = (await login('1', 'phone')).token;
    const laptop = (await login('1', 'laptop')).token;
    const other = (await login('2', 'phone')).token;
    assert.equal((await call(`${app.url}/logout-all`, { method: 'POST', token: laptop })).status, 204);
    assert.equal((await call(`${app.url}/me`, { token: phone })).status, 401);
    assert.equal((await call(`${app.url}/me`, { token: laptop })).status, 401);
    assert.equal((await call(`${app.url}/me`, { token: other })).status, 200);
  });

  it('reports the first device, then not, then the first again after logout-all', async () => {
    assert.equal((await login('1')).firstDevice, true);
    const second = await login('1');
    assert.equal(second.firstDevice, false);
    await call(`${app.url}/logout-all`, { method: 'POST', token: second.token });
    assert.equal((await login('1')).firstDevice, true);
  });
});

describe('RFC 6750 edge', () => {
  it('answers no token with 401 and a bare challenge', async () => {
    const res = await call(`${app.url}/me`);
    assert.equal(res.status, 401);
    assert.equal(res.challenge, 'Bearer realm="Users"');
  });

  it('answers only another scheme with 401 and a bare challenge', async () => {
    for (const header of ['Basic dXNlcjpwYXNz', 'Digest username="a", realm="b"', 'Negotiate']) {
      const res = await call(`${app.url}/me`, { headers: { authorization: header } });
      assert.equal(res.status, 401, header);
      assert.equal(res.challenge, 'Bearer realm="Users"', header);
    }
  });

  it('answers an Authorization header that is not <scheme> <token> with 400 invalid_request', async () => {
    for (const header of ['Bearer', 'Bearer a b', 'Bearer "quoted"', 'Bearer ,']) {
      const res = await call(`${app.url}/me`, { headers: { authorization: header } });
      assert.equal(res.status, 400, header);
      assert.equal(res.challenge, 'Bearer realm="Users", error="invalid_request"', header);
    }
  });

  it('answers a token in two places with 400 invalid_request', async () => {
    const { token } = await login('1');
    const res = await call(`${app.url}/anywhere?access_token=${token}`, { token });
    assert.equal(res.status, 400);
    assert.equal(res.challenge, 'Bearer realm="Users", error="invalid_request"');
    const twice = await call(`${app.url}/anywhere?access_token=${token}&access_token=${token}`);
    assert.equal(twice.status, 400);
  });

  it('takes the token from the body or the query only when asked to', async () => {
    const { token } = await login('1');
    const fromQuery = await call(`${app.url}/anywhere?access_token=${token}`);
    assert.equal(fromQuery.status, 200);
    const fromBody = await call(`${app.url}/anywhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `access_token=${token}`,
    });
    assert.equal(fromBody.status, 200);
    const notAsked = await call(`${app.url}/me?access_token=${token}`);
    assert.equal(notAsked.status, 401);
    assert.equal(notAsked.challenge, 'Bearer realm="Users"');
  });

  it('takes a body token only from a form-encoded body of a request that has one', async () => {
    const { token } = await login('1');
    const json = await call(`${app.url}/anywhere`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ access_token: token }),
    });
    assert.equal(json.status, 401);
    assert.equal(json.challenge, 'Bearer realm="Users"');
  });

  it('answers an unknown, revoked or user-less token with 401 invalid_token', async () => {
    const { token } = await login('1');
    await MultiToken.expireToken(token);
    const revoked = await call(`${app.url}/me`, { token });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.challenge, 'Bearer realm="Users", error="invalid_token"');

    const ghost = (await scoped.createToken({ id: 'ghost', name: 'gone' })).token.key;
    const gone = await call(`${app.url}/scoped/read`, { token: ghost });
    assert.equal(gone.status, 401);
    assert.equal(gone.challenge, 'Bearer realm="api \\"v1\\"", error="invalid_token"');
  });

  it('answers an expired token with 401 invalid_token', async () => {
    const { token } = await scoped.createToken(users.get('1')!, { ttl: 0.2 });
    assert.equal((await call(`${app.url}/scoped/read`, { token: token.key })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const res = await call(`${app.url}/scoped/read`, { token: token.key });
    assert.equal(res.status, 401);
    assert.equal(res.challenge, 'Bearer realm="api \\"v1\\"", error="invalid_token"');
  });

  it('answers a token lacking a scope with 403 insufficient_scope naming the scope', async () => {
    const reader = (await scoped.createToken(users.get('1')!, { scopes: ['read'] })).token.key;
    const everything = (await scoped.createToken(users.get('1')!)).token.key;
    assert.equal((await call(`${app.url}/scoped/read`, { token: reader })).status, 200);
    const refused = await call(`${app.url}/scoped/admin`, { token: reader });
    assert.equal(refused.status, 403);
    assert.equal(refused.challenge, 'Bearer realm="api \\"v1\\"", scope="admin write", error="insufficient_scope"');
    assert.equal((await call(`${app.url}/scoped/admin`, { token: everything })).status, 200);
  });

  it('lets a verify callback refuse or replace the user', async () => {
    const ada = (await scoped.createToken(users.get('1')!, { device: 'phone' })).token.key;
    const linus = (await scoped.createToken(users.get('3')!)).token.key;
    const ok = await call(`${app.url}/verified`, { token: ada });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { id: '1', name: 'ada', via: 'phone' });
    const refused = await call(`${app.url}/verified`, { token: linus });
    assert.equal(refused.status, 401);
    assert.equal(refused.challenge, 'Bearer realm="Users", error="invalid_token"');
  });

  it('lets a verify answer by returning the user or false', async () => {
    const ada = (await scoped.createToken(users.get('1')!)).token.key;
    const linus = (await scoped.createToken(users.get('3')!)).token.key;
    assert.equal((await call(`${app.url}/verified-plain`, { token: ada })).status, 200);
    assert.equal((await call(`${app.url}/verified-plain`, { token: linus })).status, 401);
  });

  it('refuses, rather than hangs, when a callback verify settles without calling done', async () => {
    const ada = (await scoped.createToken(users.get('1')!)).token.key;
    const res = await call(`${app.url}/verified-forgetful`, { token: ada });
    assert.equal(res.status, 401);
    assert.equal(res.challenge, 'Bearer realm="Users", error="invalid_token"');
  });

  it('leaves the route\'s options object as it found it', async () => {
    const reader = (await MultiToken.createToken({ id: '1' }, { scopes: ['read'] })).token.key;
    assert.equal((await call(`${app.url}/route-options`, { token: reader })).status, 200);
    assert.deepEqual(routeOptions, { scope: 'read' });
  });

  it('lets an async verify with passReqToCallback see the request', async () => {
    const ada = (await scoped.createToken(users.get('1')!)).token.key;
    assert.equal((await call(`${app.url}/verified-async`, { token: ada })).status, 200);
    assert.equal((await call(`${app.url}/verified-async`, { token: ada, headers: { 'x-block': 'yes' } })).status, 401);
  });
});

describe('a malformed token', () => {
  it('is refused with 401 invalid_token and no Redis command at all', async () => {
    const own = await startRedisServer();
    const admin: RedisClientType = createClient({ url: own.url });
    await admin.connect();
    const client = createClient({ url: own.url });
    await client.connect();
    const tokens = new MultiTokenRepository({ redis: client, keyPrefix: uniquePrefix('count') });
    const web = express();
    web.get('/me', passport.authenticate(new RedisMultiTokenStrategy({ repository: tokens })), (req, res) => res.json(req.user));
    const counted = await listen(web);
    try {
      const { key } = (await tokens.createToken({ id: '1' })).token;
      const i = 20;
      const altered = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);

      await admin.configResetStat();
      const res = await call(`${counted.url}/me`, { token: altered });
      assert.equal(res.status, 401);
      assert.equal(res.challenge, 'Bearer realm="Users", error="invalid_token"');
      assert.equal(await commandCount(admin), 0, 'a malformed token reached Redis');

      // The same count sees the one read a well-formed token costs, so it can fail.
      assert.equal((await call(`${counted.url}/me`, { token: key })).status, 200);
      assert.ok((await commandCount(admin)) >= 1);
    } finally {
      await counted.close();
      await client.close();
      await admin.close();
      await own.stop();
    }
  });
});

describe('login sessions', () => {
  // A Passport of its own, with a stand-in for express-session, so this describe's
  // serializeUser touches no other spec.
  const sessions = new passport.Passport();
  sessions.serializeUser((user: Express.User, done) => done(null, (user as User).id));
  let web: RunningApp;

  before(async () => {
    sessions.use(new RedisMultiTokenStrategy({ repository: scoped }));
    const withSession = express();
    withSession.use((req, _res, next) => {
      const session = {
        regenerate: (done: (err?: unknown) => void) => done(),
        save: (done: (err?: unknown) => void) => done(),
      };
      (req as unknown as { session: typeof session }).session = session;
      next();
    });
    const report = (req: Request, res: Response): void => {
      res.json({ user: req.user, session: (req as unknown as { session: { passport?: unknown } }).session.passport ?? null });
    };
    withSession.get('/no-option', sessions.authenticate('redis-multi-token'), report);
    withSession.get('/session', sessions.authenticate('redis-multi-token', { session: true }), report);
    withSession.get('/frozen-session', sessions.authenticate('redis-multi-token', Object.freeze({ session: true })), report);
    web = await listen(withSession);
  });

  after(async () => {
    await web.close();
  });

  it('accepts a token on a route whose options are frozen, with no session support at all', async () => {
    const reader = (await scoped.createToken(users.get('1')!, { scopes: ['read'] })).token.key;
    const bare = express();
    bare.get('/frozen', sessions.authenticate('redis-multi-token', Object.freeze({})), (req, res) => res.json(req.user));
    bare.get('/frozen-scope', sessions.authenticate('redis-multi-token', Object.freeze({ scope: 'read' })), (req, res) => res.json(req.user));
    bare.get('/frozen-admin', sessions.authenticate('redis-multi-token', Object.freeze({ scope: 'admin' })), (req, res) => res.json(req.user));
    bare.use(errorHandler);
    const running = await listen(bare);
    try {
      const frozen = await call(`${running.url}/frozen`, { token: reader });
      assert.equal(frozen.status, 200);
      assert.deepEqual(JSON.parse(frozen.body), users.get('1'));
      assert.equal((await call(`${running.url}/frozen-scope`, { token: reader })).status, 200);
      const refused = await call(`${running.url}/frozen-admin`, { token: reader });
      assert.equal(refused.status, 403);
      assert.equal(refused.challenge, 'Bearer realm="Users", scope="admin", error="insufficient_scope"');
    } finally {
      await running.close();
    }
  });

  it('starts no login session when the route does not ask for one, even with session support', async () => {
    const key = (await scoped.createToken(users.get('1')!)).token.key;
    const res = await call(`${web.url}/no-option`, { token: key });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { user: users.get('1'), session: null });
  });

  it('starts a login session when the route asks for one, with plain or frozen options', async () => {
    const key = (await scoped.createToken(users.get('1')!)).token.key;
    for (const path of ['/session', '/frozen-session']) {
      const res = await call(`${web.url}${path}`, { token: key });
      assert.equal(res.status, 200, path);
      assert.deepEqual(JSON.parse(res.body), { user: users.get('1'), session: { user: '1' } }, path);
    }
  });
});

describe('the strategy constructor', () => {
  it('throws a TypeError that names each bad option', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['repository', { repository: {} }],
      ['name', { name: '' }],
      ['realm', { realm: 'a\r\nb' }],
      ['realm', { realm: 'usuários' }],
      ['tokenFrom', { tokenFrom: ['cookie'] }],
      ['tokenFrom', { tokenFrom: [] }],
      ['scope', { scope: 'a b' }],
    ];
    for (const [name, options] of cases) {
      assert.throws(() => new RedisMultiTokenStrategy(options), (err: unknown) => {
        assert.ok(err instanceof TypeError, name);
        assert.match(err.message, new RegExp(`^${name}`));
        return true;
      });
    }
    assert.throws(() => new RedisMultiTokenStrategy({}, 'verify' as never), /^TypeError: verify/);
  });
});

describe('a repository the strategy does not own the verification of', () => {
  // The package's own repository verifies straight into the request's answer; anything else
  // that fits TokenAuthenticator, and a subclass that overrides authenticate, is called as
  // documented, through authenticate().
  let web: RunningApp;
  let audited: AuditedRepository;
  const seen: string[] = [];
  let checks = 0;

  class AuditedRepository extends MultiTokenRepository<User> {
    override async authenticate(key: string): ReturnType<MultiTokenRepository<User>['authenticate']> {
      const found = await super.authenticate(key);
      seen.push(`override ${found?.user.id ?? 'null'}`);
      return found;
    }
  }

  before(async () => {
    audited = new AuditedRepository({ redis: shared.client, keyPrefix: uniquePrefix('audited'), findUser: (id) => users.get(id) ?? null });
    const app = express();
    const route = (strategy: RedisMultiTokenStrategy<User>): RequestHandler[] => [
      passport.authenticate(strategy, { session: false }) as RequestHandler,
      (req: Request, res: Response) => {
        res.json({ user: req.user, device: (req.authInfo as TokenInfo).device });
      },
    ];
    // An authenticator of the app's own: a promise, a plain value, a rejection, a throw.
    const own = (answer: (key: string) => unknown) => ({
      isWellFormed: (key: string) => {
        checks += 1;
        return scoped.isWellFormed(key);
      },
      authenticate: answer,
    });
    app.get('/own-promise', ...route(new RedisMultiTokenStrategy({ repository: own(async (key) => {
      seen.push('own promise');
      return scoped.authenticate(key);
    }) as never })));
    app.get('/own-plain', ...route(new RedisMultiTokenStrategy({ repository: own(() => {
      seen.push('own plain');
      return { user: users.get('2'), token: { device: 'plain', scopes: ['*'] } };
    }) as never })));
    app.get('/own-rejects', ...route(new RedisMultiTokenStrategy({ repository: own(() => Promise.reject(new Error('down'))) as never })));
    app.get('/own-throws', ...route(new RedisMultiTokenStrategy({ repository: own(() => {
      throw new Error('broken');
    }) as never })));
    app.get('/audited', ...route(new RedisMultiTokenStrategy({ repository: audited })));
    app.use(errorHandler);
    web = await listen(app);
  });

  after(async () => {
    await web.close();
  });

  beforeEach(() => {
    seen.length = 0;
    checks = 0;
  });

  it('checks the format and checksum of a header token once, good or bad', async () => {
    const { token } = await scoped.createToken(users.get('1')!);
    assert.equal((await call(`${web.url}/own-promise`, { token: token.key })).status, 200);
    assert.equal(checks, 1);
    const badChecksum = token.key.slice(0, -1) + (token.key.endsWith('A') ? 'B' : 'A');
    const refused = await call(`${web.url}/own-promise`, { token: badChecksum });
    assert.equal(refused.status, 401);
    assert.match(refused.challenge ?? '', /error="invalid_token"/);
    assert.equal(checks, 2, 'one check for the refused token, and no authenticate()');
    assert.deepEqual(seen, ['own promise']);
  });

  it('calls an authenticator of the app own through authenticate(), whether it answers with a promise or a plain value', async () => {
    const { token } = await scoped.createToken(users.get('1')!, { device: 'laptop' });
    const viaPromise = await call(`${web.url}/own-promise`, { token: token.key });
    assert.equal(viaPromise.status, 200);
    assert.deepEqual(JSON.parse(viaPromise.body), { user: users.get('1'), device: 'laptop' });
    const viaPlain = await call(`${web.url}/own-plain`, { token: token.key });
    assert.equal(viaPlain.status, 200);
    assert.deepEqual(JSON.parse(viaPlain.body), { user: users.get('2'), device: 'plain' });
    assert.deepEqual(seen, ['own promise', 'own plain']);
  });

  it('passes an authenticator failure, rejected or thrown, to the error handler, never as a 401', async () => {
    const { token } = await scoped.createToken(users.get('1')!);
    assert.equal((await call(`${web.url}/own-rejects`, { token: token.key })).status, 500);
    assert.equal((await call(`${web.url}/own-throws`, { token: token.key })).status, 500);
  });

  it('calls the authenticate() of a subclass that overrides it, for a live token and an unknown one', async () => {
    const { token } = await audited.createToken(users.get('2')!, { device: 'tablet' });
    const live = await call(`${web.url}/audited`, { token: token.key });
    assert.equal(live.status, 200);
    assert.deepEqual(JSON.parse(live.body), { user: users.get('2'), device: 'tablet' });
    await audited.expireToken(token.key);
    assert.equal((await call(`${web.url}/audited`, { token: token.key })).status, 401);
    assert.deepEqual(seen, ['override 2', 'override null']);
  });
});
