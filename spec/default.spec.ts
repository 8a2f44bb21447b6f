import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiToken, MultiTokenError, RedisMultiTokenStrategy } from '../src/index.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const shared = sharedRedis();
shared.after(() => MultiToken.close());

describe('MultiToken, the default repository', () => {
  it('is what a strategy with no options uses', () => {
    assert.equal(new RedisMultiTokenStrategy().repository, MultiToken);
  });

  it('takes options from configure() before first use, the last call winning', async () => {
    MultiToken.configure({ redis: 'redis://127.0.0.1:1', ttl: 5 });
    MultiToken.configure({ redis: shared.server.url, keyPrefix: uniquePrefix('default'), tokenPrefix: 'acme', ttl: 60 });
    const { token } = await MultiToken.createToken({ id: '7' });
    assert.match(token.key, /^acme_/);
    assert.equal(token.expiresAt!.getTime() - token.createdAt.getTime(), 60_000);
    assert.deepEqual(await MultiToken.getUserFromToken(token.key), { id: '7' });
  });

  it('refuses configure() once it has started, and keeps working as it was', async () => {
    assert.throws(() => MultiToken.configure({ ttl: 10 }), (err: unknown) => {
      assert.ok(err instanceof MultiTokenError);
      assert.equal(err.code, 'ERR_MULTITOKEN_CONFIGURE');
      return true;
    });
    const { token } = await MultiToken.createToken({ id: '8' });
    assert.equal(token.expiresAt!.getTime() - token.createdAt.getTime(), 60_000);
  });

  it('refuses bad options in configure() with a TypeError naming them', () => {
    const fresh = new (MultiToken.constructor as new () => typeof MultiToken)();
    assert.throws(() => fresh.configure({ ttl: -1 }), /^TypeError: ttl/);
  });
});
