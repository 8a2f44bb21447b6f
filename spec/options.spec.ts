// The repository's options as src/options.ts reads them: each one left out takes its
// documented default, each bad one is a TypeError that names it, and lifetimes in seconds
// become the milliseconds the rest of the package works in. No server is involved: the
// options are checked before anything connects.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { isRedisUrl, positiveSeconds, readSettings, type DefaultUser, type MultiTokenRepositoryOptions, type Settings } from '../src/options.js';

const DAY_MS = 86_400_000;
const HUNDRED_YEARS_S = 100 * 365 * 86_400;

/** Asserts that `read` throws a TypeError that names `name` first. */
function assertNamed(name: string, read: () => unknown): void {
  assert.throws(read, (err: unknown) => {
    assert.ok(err instanceof TypeError, `${name}: ${String(err)}`);
    assert.ok(err.message.startsWith(name), `the TypeError names ${JSON.stringify(err.message.split(' ')[0])}, not ${name}`);
    return true;
  });
}

/** Reads options the type system would refuse, as a caller without TypeScript may pass them. */
function read(options: Record<string, unknown>): Settings<DefaultUser> {
  return readSettings(options as MultiTokenRepositoryOptions);
}

describe('options left out', () => {
  it('take their documented defaults', () => {
    const settings = readSettings({});
    assert.equal(settings.keyPrefix, 'rmt:');
    assert.equal(settings.tokenPrefix, 'rmt');
    assert.equal(settings.ttlMs, 14 * DAY_MS);
    assert.equal(settings.idleMs, null);
    assert.equal(settings.touchMs, 60_000);
    assert.equal(settings.maxTokens, 100);
    assert.deepEqual(settings.secrets, [null], 'no pepper: plain SHA-256');
    assert.equal(settings.timeout, 2000);
    assert.equal(settings.replicas, 0);
    assert.equal(settings.cacheFence, 100);
    assert.equal(settings.redis, undefined, 'REDIS_URL or the default URL, resolved when the connection opens');
    assert.equal(settings.clock, Date.now);
  });

  it('take the same defaults with no options object at all', () => {
    // The default userId and findUser are fresh functions each time; the next test reads them.
    const comparable = (settings: Settings<DefaultUser>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(settings).filter(([key]) => key !== 'userId' && key !== 'findUser'));
    assert.deepEqual(comparable(readSettings(undefined)), comparable(readSettings({})));
  });

  it("read a user's id from user.id and find a user as { id }", async () => {
    const { userId, findUser } = readSettings<{ id: string | number }>({});
    assert.equal(userId({ id: 'ada' }), 'ada');
    assert.equal(userId({ id: 7 }), 7, 'a number, which the repository turns into a string');
    assert.equal(userId(null as unknown as { id: string }), '', 'no user: an empty id, which the repository refuses');
    assert.deepEqual(await findUser('ada'), { id: 'ada' });
  });
});

describe('options given', () => {
  it('keep what was passed', () => {
    const userId = (user: { key: string }): string => user.key;
    const findUser = (id: string): { key: string } => ({ key: id });
    const clock = (): number => 0;
    const settings = readSettings({ keyPrefix: 'app:', tokenPrefix: 'acme', userId, findUser, clock, timeout: 150, replicas: 2, maxTokensPerUser: 5 });
    assert.equal(settings.keyPrefix, 'app:');
    assert.equal(settings.tokenPrefix, 'acme');
    assert.equal(settings.userId, userId);
    assert.equal(settings.findUser, findUser);
    assert.equal(settings.clock, clock);
    assert.equal(settings.timeout, 150);
    assert.equal(settings.replicas, 2);
    assert.equal(settings.maxTokens, 5);
  });

  it('turn lifetimes in seconds into milliseconds, fractions included', () => {
    const settings = readSettings({ ttl: 1.5, idleTimeout: 90, touchInterval: 0.25 });
    assert.equal(settings.ttlMs, 1500);
    assert.equal(settings.idleMs, 90_000);
    assert.equal(settings.touchMs, 250);
  });

  it('take null for no expiry, no idle timeout, no cap and no cache fence', () => {
    const settings = readSettings({ ttl: null, idleTimeout: null, maxTokensPerUser: null, cacheFence: null });
    assert.equal(settings.ttlMs, null);
    assert.equal(settings.idleMs, null);
    assert.equal(settings.maxTokens, null);
    assert.equal(settings.cacheFence, null);
  });

  it('take a ttl of up to 100 years, and a touchInterval of 0 (every use written)', () => {
    assert.equal(readSettings({ ttl: HUNDRED_YEARS_S }).ttlMs, HUNDRED_YEARS_S * 1000);
    assert.ok(Number.isSafeInteger(readSettings({ ttl: HUNDRED_YEARS_S }).ttlMs));
    assert.equal(readSettings({ idleTimeout: 60, touchInterval: 0 }).touchMs, 0);
  });

  it('take a pepper of 16 bytes or more, counted in UTF-8, and keep a list of them in order', () => {
    assert.deepEqual(readSettings({ secret: 'é'.repeat(8) }).secrets, [Buffer.from('é'.repeat(8), 'utf8')], 'eight two-byte characters are 16 bytes');
    const newest = Buffer.alloc(16, 1);
    const oldest = 'the oldest pepper, still listed';
    assert.deepEqual(readSettings({ secret: [newest, oldest] }).secrets, [newest, Buffer.from(oldest, 'utf8')]);
  });

  it('take a node-redis client, an ioredis client or a redis:// or rediss:// URL, as they are', () => {
    const nodeRedis = createClient();
    const ioredis = new Redis({ lazyConnect: true });
    try {
      for (const redis of [nodeRedis, ioredis, 'redis://127.0.0.1:6379', 'rediss://user:secret@redis.example:6380/2'] as const) {
        assert.equal(readSettings({ redis }).redis, redis);
      }
    } finally {
      ioredis.disconnect();
    }
  });
});

describe('a bad option', () => {
  const cases: [name: string, options: Record<string, unknown>][] = [
    ['keyPrefix', { keyPrefix: 'a{b}' }],
    ['keyPrefix', { keyPrefix: 'a}' }],
    ['keyPrefix', { keyPrefix: 5 }],
    ['tokenPrefix', { tokenPrefix: 'has_underscore' }],
    ['tokenPrefix', { tokenPrefix: '1st' }],
    ['tokenPrefix', { tokenPrefix: '' }],
    ['tokenPrefix', { tokenPrefix: 'a'.repeat(17) }],
    ['userId', { userId: 'id' }],
    ['findUser', { findUser: 3 }],
    ['clock', { clock: 0 }],
    ['ttl', { ttl: -1 }],
    ['ttl', { ttl: 0 }],
    ['ttl', { ttl: 'long' }],
    ['ttl', { ttl: Number.NaN }],
    ['ttl', { ttl: Infinity }],
    ['ttl', { ttl: HUNDRED_YEARS_S + 1 }],
    ['idleTimeout', { idleTimeout: 0 }],
    ['idleTimeout', { idleTimeout: '60' }],
    ['idleTimeout', { idleTimeout: 1e13 }],
    ['touchInterval', { touchInterval: -5 }],
    ['touchInterval', { touchInterval: Number.NaN }],
    ['touchInterval', { touchInterval: '60' }],
    ['touchInterval', { idleTimeout: 30, touchInterval: 60 }],
    ['touchInterval', { idleTimeout: 60, touchInterval: 60 }],
    ['maxTokensPerUser', { maxTokensPerUser: 0 }],
    ['maxTokensPerUser', { maxTokensPerUser: 1.5 }],
    ['maxTokensPerUser', { maxTokensPerUser: '10' }],
    ['maxTokensPerUser', { maxTokensPerUser: 2 ** 53 }],
    ['secret', { secret: 'short' }],
    ['secret', { secret: 'e'.repeat(15) }],
    ['secret', { secret: Buffer.alloc(15) }],
    ['secret', { secret: [] }],
    ['secret', { secret: ['a pepper of at least 16 bytes', 'short'] }],
    ['secret', { secret: [42] }],
    ['timeout', { timeout: 0 }],
    ['timeout', { timeout: -1 }],
    ['timeout', { timeout: Number.NaN }],
    ['timeout', { timeout: '2000' }],
    ['replicas', { replicas: -1 }],
    ['replicas', { replicas: 1.5 }],
    ['replicas', { replicas: '1' }],
    ['cacheFence', { cacheFence: 0 }],
    ['cacheFence', { cacheFence: -1 }],
    ['cacheFence', { cacheFence: Number.NaN }],
    ['cacheFence', { cacheFence: '100' }],
    ['redis', { redis: { get() {} } }],
    ['redis', { redis: 'localhost:6379' }],
    ['redis', { redis: 'http://127.0.0.1:6379' }],
    ['redis', { redis: 6379 }],
  ];

  for (const [name, options] of cases) {
    it(`is a TypeError naming ${name}: ${JSON.stringify(options)}`, () => {
      assertNamed(name, () => read(options));
    });
  }

  it('is an options value that is not an object', () => {
    for (const options of [null, 42, 'ttl=60']) {
      assertNamed('MultiTokenRepository options', () => readSettings(options as unknown as MultiTokenRepositoryOptions));
    }
  });
});

describe('positiveSeconds', () => {
  it('names the option it was given, as the CLI names its flags', () => {
    assertNamed('--idle-timeout', () => positiveSeconds('--idle-timeout', 0, false));
  });

  it('takes null only where null is allowed', () => {
    assert.equal(positiveSeconds('ttl', null, true), null);
    assertNamed('ttl', () => positiveSeconds('ttl', null, false));
  });
});

describe('isRedisUrl', () => {
  it('is true for redis:// and rediss:// URLs only', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://redis.example', 'redis://user:secret@redis.example:6380/2']) {
      assert.equal(isRedisUrl(url), true, url);
    }
    for (const url of ['http://127.0.0.1:6379', 'localhost:6379', '127.0.0.1:6379', 'unix:///tmp/redis.sock', '']) {
      assert.equal(isRedisUrl(url), false, url);
    }
  });
});
