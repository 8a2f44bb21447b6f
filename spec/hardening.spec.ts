// Issue 14, "nothing a user can choose reaches another user": each hardening item, proven on a
// real Redis. Record and hash bounds, with their script times, are in spec/bounds.spec.ts; the
// CLI's share is in spec/cli-hardening.spec.ts.
import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Passport } from 'passport';
import { MultiTokenRepository, RedisMultiTokenStrategy, type MultiTokenRepositoryOptions, type TokenSource } from '../src/index.js';
import { SEPARATOR } from '../src/record.js';
import { generateToken, routingTag, tokenId } from '../src/token.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

const PEPPER_1 = 'pepper-one-pepper-one-pepper-one';
const PEPPER_2 = 'pepper-two-pepper-two-pepper-two';

describe('hardening (issue 14)', () => {
  const shared = sharedRedis();

  function repository(prefix: string, options: MultiTokenRepositoryOptions<User> = {}): MultiTokenRepository<User> {
    return new MultiTokenRepository<User>({ redis: shared.client, keyPrefix: prefix, ...options });
  }

  describe('user ids', () => {
    it("keeps 'alice\\uD800' from reaching 'alice\\uFFFD': a TypeError in every call, and the other user's tokens untouched", async () => {
      const prefix = uniquePrefix('surrogate');
      const tokens = repository(prefix);
      const ill: User = { id: 'alice\uD800' };
      const well: User = { id: 'alice\uFFFD' };
      const { token } = await tokens.createToken(well, { device: 'phone' });
      // Both encode to the same bytes: one hash, one stored user id, had the first got through.
      assert.equal(Buffer.from(ill.id).equals(Buffer.from(well.id)), true);

      await assert.rejects(tokens.createToken(ill), TypeError);
      await assert.rejects(tokens.listTokens(ill), TypeError);
      await assert.rejects(tokens.expireAllTokens(ill), TypeError);
      await assert.rejects(tokens.expireOtherTokens(ill, token.key), TypeError);
      await assert.rejects(tokens.expireTokenById(ill, token.id), TypeError);

      assert.equal((await tokens.authenticate(token.key))?.user.id, well.id);
      assert.deepEqual((await tokens.listTokens(well)).map((listed) => listed.id), [token.id]);
      assert.equal(await shared.client.hLen(hashKeyOf(prefix, well.id)), 1);
    });

    it('refuses an empty id, a control character (C0, DEL, C1) or an id over 256 bytes in UTF-8, in every call, writing nothing', async () => {
      const prefix = uniquePrefix('bad-ids');
      const tokens = repository(prefix);
      const { token } = await tokens.createToken({ id: 'ada' });
      for (const id of ['', 'a\u0000b', 'a\u001bb', 'a\u007fb', 'a\u0085b', '\u00e9'.repeat(128) + 'x', 'x'.repeat(257)]) {
        const user: User = { id };
        await assert.rejects(tokens.createToken(user), TypeError, JSON.stringify(id));
        await assert.rejects(tokens.listTokens(user), TypeError);
        await assert.rejects(tokens.expireAllTokens(user), TypeError);
        await assert.rejects(tokens.expireOtherTokens(user, token.key), TypeError);
        await assert.rejects(tokens.expireTokenById(user, token.id), TypeError);
      }
      assert.deepEqual(await shared.keysUnder(prefix), [hashKeyOf(prefix, 'ada')]);
      assert.equal((await tokens.authenticate(token.key))?.user.id, 'ada');
    });

    it('accepts ids of exactly 256 bytes, astral characters and numbers', async () => {
      const tokens = repository(uniquePrefix('good-ids'));
      for (const id of ['\u00e9'.repeat(128), 'x'.repeat(256), '\u{1F600}user', 'user 42']) {
        const { token } = await tokens.createToken({ id });
        assert.equal((await tokens.authenticate(token.key))?.user.id, id);
      }
      const numbered = new MultiTokenRepository<{ id: number }>({ redis: shared.client, keyPrefix: uniquePrefix('numbers') });
      assert.equal((await numbered.createToken({ id: 42 })).token.userId, '42');
    });
  });

  describe('scopes', () => {
    it("refuses '*' beside another scope, and keeps ['*'] as every scope", async () => {
      const prefix = uniquePrefix('star');
      const tokens = repository(prefix);
      await assert.rejects(tokens.createToken({ id: 'ada' }, { scopes: ['read', '*'] }), /^TypeError: scopes/);
      await assert.rejects(tokens.createToken({ id: 'ada' }, { scopes: ['*', 'admin'] }), /^TypeError: scopes/);
      assert.deepEqual(await shared.keysUnder(prefix), []);
      const { token } = await tokens.createToken({ id: 'ada' }, { scopes: ['*'] });
      assert.deepEqual((await tokens.authenticate(token.key))?.token.scopes, ['*']);
    });
  });

  describe('device labels', () => {
    it('turn C0, C1 and bidi controls into spaces, and a lone surrogate into U+FFFD', async () => {
      const tokens = repository(uniquePrefix('labels'));
      const raw = 'a\tb\u0085c\u009bd\u202ee\u2066f\u2069g\u200fh\u061ci\u001bj\uD800k';
      const { token } = await tokens.createToken({ id: 'ada' }, { device: raw });
      const expected = 'a b c d e f g h i j\uFFFDk';
      assert.equal(token.device, expected);
      assert.equal((await tokens.listTokens({ id: 'ada' }))[0]?.device, expected);
      assert.equal((await tokens.authenticate(token.key))?.token.device, expected);
    });
  });

  describe('a dropped pepper', () => {
    it('leaves tokens that are not listed, not counted for first or the cap, removed by the next write, and not revived by adding it back', async () => {
      const prefix = uniquePrefix('dropped-pepper');
      const ada: User = { id: 'ada' };
      const key = hashKeyOf(prefix, ada.id);
      const before = repository(prefix, { secret: PEPPER_1, maxTokensPerUser: 2 });
      const old = [(await before.createToken(ada)).token, (await before.createToken(ada)).token];

      const after = repository(prefix, { secret: PEPPER_2, maxTokensPerUser: 2 });
      assert.deepEqual(await after.listTokens(ada), []);
      const evicted: string[] = [];
      after.on('expired', ({ reason, ids }) => reason === 'evicted' && evicted.push(...ids));
      const first = await after.createToken(ada);
      assert.equal(first.first, true, 'a dropped pepper\'s tokens count for first');
      await after.createToken(ada);
      assert.deepEqual(evicted, [], 'a dropped pepper\'s tokens count for the cap');
      // The writes removed them from the hash for good.
      for (const token of old) assert.equal(await shared.client.hExists(key, token.id), 0);

      const back = repository(prefix, { secret: [PEPPER_2, PEPPER_1] });
      for (const token of old) assert.equal(await back.authenticate(token.key), null);
      assert.equal((await back.listTokens(ada)).length, 2);
      assert.equal((await back.authenticate(first.token.key))?.user.id, 'ada');
    });

    it('counts no pepper as a pepper: setting a secret drops the plain tokens, and unsetting it revives none', async () => {
      const prefix = uniquePrefix('plain-pepper');
      const ada: User = { id: 'ada' };
      const plain = repository(prefix);
      const old = (await plain.createToken(ada)).token;
      const peppered = repository(prefix, { secret: PEPPER_1 });
      assert.deepEqual(await peppered.listTokens(ada), []);
      assert.equal((await peppered.createToken(ada)).first, true);
      assert.equal(await plain.authenticate(old.key), null);
      assert.equal((await plain.listTokens(ada)).length, 0);
    });

    it('lets a repository list peppers of distinct fingerprints only', () => {
      assert.throws(() => repository('x:', { secret: [PEPPER_1, PEPPER_1] }), /^TypeError: secret/);
    });
  });

  describe('a touch that finds its token gone', () => {
    for (const idleTimeout of [null, 3600]) {
      it(`refuses the verification whose read found the token (idleTimeout ${String(idleTimeout)})`, async () => {
        const prefix = uniquePrefix('touch-gone');
        const during: { revoke?: string } = {};
        const other = repository(prefix);
        const tokens = repository(prefix, {
          idleTimeout,
          touchInterval: 0,
          // Runs between the read and the touch: a revocation from elsewhere lands right there.
          findUser: async (id) => {
            if (during.revoke !== undefined) assert.equal(await other.expireToken(during.revoke), true);
            return { id };
          },
        });
        const { token } = await tokens.createToken({ id: 'ada' });
        assert.equal((await tokens.authenticate(token.key))?.user.id, 'ada');
        during.revoke = token.key;
        // A touch is due once the server's clock, as this process estimates it, has passed the
        // last use; the estimate may be a few ms off, so let some time pass first.
        await sleep(100);
        assert.equal(await tokens.authenticate(token.key), null);
      });
    }
  });

  describe('expireOtherTokens', () => {
    it("refuses another user's token string with a TypeError that revokes nothing", async () => {
      const prefix = uniquePrefix('others');
      const tokens = repository(prefix);
      const ada = [(await tokens.createToken({ id: 'ada' })).token, (await tokens.createToken({ id: 'ada' })).token];
      const grace = (await tokens.createToken({ id: 'grace' })).token;
      await assert.rejects(tokens.expireOtherTokens({ id: 'ada' }, grace.key), /^TypeError: current belongs to another user/);
      for (const token of [...ada, grace]) assert.notEqual(await tokens.authenticate(token.key), null);
    });

    it("refuses, in the script, a token of another user who shares the routing tag, and revokes nothing", async () => {
      const prefix = uniquePrefix('others-same-tag');
      const tokens = repository(prefix);
      const ada = [(await tokens.createToken({ id: 'ada' })).token, (await tokens.createToken({ id: 'ada' })).token];
      // A token on ada's tag whose record is mallory's: a user who shares the tag, as a 64-bit
      // tag makes impossible to arrange through the API.
      const key = generateToken('rmt', routingTag('ada'));
      const now = Date.now();
      const record = [now.toString(36), (now + 3_600_000).toString(36), '', 'mallory'].join(SEPARATOR);
      await shared.client.hSet(hashKeyOf(prefix, 'ada'), tokenId(key, null), record);
      await assert.rejects(tokens.expireOtherTokens({ id: 'ada' }, key), /^TypeError: current belongs to another user/);
      for (const token of ada) assert.notEqual(await tokens.authenticate(token.key), null);
      assert.equal(await shared.client.hLen(hashKeyOf(prefix, 'ada')), 3);
    });
  });

  describe('the strategy on a bare http server', () => {
    async function serve(tokens: MultiTokenRepository<User>, tokenFrom: TokenSource[]): Promise<{ port: number; close: () => Promise<void> }> {
      const passport = new Passport();
      passport.use(new RedisMultiTokenStrategy({ repository: tokens, tokenFrom }));
      const middleware = passport.authenticate('redis-multi-token', { session: false }) as unknown as (
        req: IncomingMessage,
        res: ServerResponse,
        next: (err?: unknown) => void,
      ) => void;
      const server = createServer((req, res) => {
        // As Express links them: the strategy sets the challenge of a 400 on the response.
        (req as IncomingMessage & { res?: ServerResponse }).res = res;
        middleware(req, res, (err) => {
          res.statusCode = err === undefined ? 200 : 500;
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return {
        port: (server.address() as AddressInfo).port,
        close: () => new Promise((resolve) => server.close(() => resolve())),
      };
    }

    // fetch would normalise the path; node:http sends it as it is.
    function get(port: number, path: string, token?: string): Promise<{ status: number; challenge: string | undefined }> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
        const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
          res.resume();
          res.once('end', () => resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] }));
        });
        req.once('error', reject);
        req.end();
      });
    }

    it("answers an unparsable request URL with 400 invalid_request, never a 500 (tokenFrom 'query')", async () => {
      const tokens = repository(uniquePrefix('bad-url'));
      const { token } = await tokens.createToken({ id: 'ada' });
      const app = await serve(tokens, ['header', 'query']);
      try {
        assert.equal((await get(app.port, `/?access_token=${token.key}`)).status, 200);
        for (const path of ['//[', `//[?access_token=${token.key}`, '//[/x']) {
          const answer = await get(app.port, path);
          assert.equal(answer.status, 400, path);
          assert.match(answer.challenge ?? '', /error="invalid_request"/);
        }
        const withHeader = await get(app.port, '//[', token.key);
        assert.equal(withHeader.status, 400);
      } finally {
        await app.close();
      }
    });

    it('answers 401 invalid_token when the touch finds the token revoked after the read', async () => {
      const prefix = uniquePrefix('touch-gone-http');
      let revoke: string | undefined;
      const other = repository(prefix);
      const tokens = repository(prefix, {
        touchInterval: 0,
        findUser: async (id) => {
          if (revoke !== undefined) await other.expireToken(revoke);
          return { id };
        },
      });
      const { token } = await tokens.createToken({ id: 'ada' });
      const app = await serve(tokens, ['header']);
      try {
        assert.equal((await get(app.port, '/', token.key)).status, 200);
        revoke = token.key;
        await sleep(100);
        const answer = await get(app.port, '/', token.key);
        assert.equal(answer.status, 401);
        assert.match(answer.challenge ?? '', /error="invalid_token"/);
      } finally {
        await app.close();
      }
    });
  });
});
