// A token's stored record as src/record.ts reads and bounds it: what the scripts store is read
// back whole, anything the package did not write is a bad reply (ERR_MULTITOKEN_REPLY, never
// a token), a device label and meta are cleaned or refused with a TypeError naming them, and a
// record's end of life is the earlier of its expiry and its idle deadline.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiTokenStoreError } from '../src/errors.js';
import { MultiTokenRepository } from '../src/index.js';
import {
  SEPARATOR,
  decodeRecord,
  endOfLife,
  isStorableUserId,
  readDevice,
  readMeta,
  recordTail,
  type StoredRecord,
} from '../src/record.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';
import { until } from './support/until.js';

const CREATED = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;

/** A record as the create script stores it: the stamped times and user id, then the tail. */
function stored(times: { created: number; expires?: number; lastUsed?: number }, userId: string, tail = ''): string {
  const head = [times.created, times.expires, times.lastUsed].map((time) => (time === undefined ? '' : time.toString(36)));
  return [...head, userId, ...(tail === '' ? [] : [tail])].join(SEPARATOR);
}

/** Asserts that `value` is refused as a bad reply to `command`. */
function assertBadReply(value: string): void {
  assert.throws(() => decodeRecord(value, 'HGET'), (err: unknown) => {
    assert.ok(err instanceof MultiTokenStoreError, `${JSON.stringify(value)}: ${String(err)}`);
    assert.equal(err.code, 'ERR_MULTITOKEN_REPLY', JSON.stringify(value));
    return true;
  });
}

/** Asserts that `read` throws a TypeError that names `name` first. */
function assertNamed(name: string, read: () => unknown): void {
  assert.throws(read, (err: unknown) => {
    assert.ok(err instanceof TypeError, `${name}: ${String(err)}`);
    assert.ok(err.message.startsWith(name), `the TypeError does not name ${name}`);
    return true;
  });
}

describe('a stored record', () => {
  const cases: [label: string, scopes: string[], device: string | null, meta: Record<string, string>][] = [
    ['every scope, no device, no meta', ['*'], null, {}],
    ['scopes, a device and meta', ['read', 'write'], 'phone', { os: 'ios', app: '3.1' }],
    ['a device only', ['*'], 'Mozilla/5.0 (X11; Linux x86_64)', {}],
    ['meta only', ['*'], null, { plan: 'pro' }],
    ['scopes only', ['admin'], null, {}],
  ];

  for (const [label, scopes, device, meta] of cases) {
    it(`reads back what was stored: ${label}`, () => {
      const times = { created: CREATED, expires: CREATED + 14 * 24 * HOUR, lastUsed: CREATED + HOUR };
      const expected: StoredRecord = { userId: 'ada', createdAt: times.created, expiresAt: times.expires, lastUsedAt: times.lastUsed, scopes, device, meta, family: null, graceEnd: null };
      assert.deepEqual(decodeRecord(stored(times, 'ada', recordTail(scopes, device, meta)), 'HGET'), expected);
    });
  }

  it('reads an empty expiry as none and an empty last use as not yet used', () => {
    const record = decodeRecord(stored({ created: CREATED }, 'ada'), 'HGET');
    assert.equal(record.expiresAt, null);
    assert.equal(record.lastUsedAt, null);
  });

  it('leaves the trailing empty parts out, so a plain token is four parts', () => {
    assert.equal(recordTail(['*'], null, {}), '');
    assert.equal(stored({ created: CREATED }, 'ada', recordTail(['*'], null, {})).split(SEPARATOR).length, 4);
    assert.equal(recordTail(['*'], 'phone', {}).split(SEPARATOR).length, 2, 'scopes (empty for all), then the device');
  });

  describe('written by the scripts on a real Redis', () => {
    const shared = sharedRedis();

    it('is read back field for field, before and after a touch', async () => {
      const keyPrefix = uniquePrefix('record');
      const tokens = new MultiTokenRepository({ redis: shared.client, keyPrefix, touchInterval: 0, idleTimeout: 3600 });
      const { token } = await tokens.createToken({ id: 'ada' }, { device: 'phone', scopes: ['read', 'write'], meta: { os: 'ios' } });
      const read = async (): Promise<StoredRecord> => decodeRecord((await shared.client.hGet(hashKeyOf(keyPrefix, 'ada'), token.id))!, 'HGET');

      const created = await read();
      assert.deepEqual(created, {
        userId: 'ada',
        createdAt: token.createdAt.getTime(),
        expiresAt: token.expiresAt!.getTime(),
        lastUsedAt: null,
        scopes: ['read', 'write'],
        device: 'phone',
        meta: { os: 'ios' },
        family: null,
        graceEnd: null,
      });
      // A touch falls due once this process's estimate of the server's clock has passed the
      // creation; on a loaded machine that estimate may lag by a few ms.
      await until('a verification to touch the token', async () => {
        assert.notEqual(await tokens.authenticate(token.key), null);
        return (await read()).lastUsedAt !== null;
      }, 3000);
      const touched = await read();
      assert.ok(touched.lastUsedAt! >= created.createdAt, 'the last use is stamped after the creation');
      assert.deepEqual({ ...touched, lastUsedAt: null }, created, 'the touch kept everything else');
    });
  });

  describe('that the package did not write', () => {
    const valid = stored({ created: CREATED }, 'ada');
    const bad: [label: string, value: string][] = [
      ['one part', 'not a record'],
      ['three parts', [CREATED.toString(36), '', ''].join(SEPARATOR)],
      ['nine parts', `${valid}${SEPARATOR}read${SEPARATOR}phone${SEPARATOR}{}${SEPARATOR}family${SEPARATOR}more`],
      ['an eighth part that is no rotation part', `${valid}${SEPARATOR}read${SEPARATOR}phone${SEPARATOR}{}${SEPARATOR}a b!zz`],
      ['an empty user id', stored({ created: CREATED }, '')],
      ['no creation time', ['', '', '', 'ada'].join(SEPARATOR)],
      ['a time in upper case', ['ABC', '', '', 'ada'].join(SEPARATOR)],
      ['a time of twelve digits', ['z'.repeat(12), '', '', 'ada'].join(SEPARATOR)],
      ['a negative time', ['-1', '', '', 'ada'].join(SEPARATOR)],
      ['a fractional expiry', [CREATED.toString(36), '1.5', '', 'ada'].join(SEPARATOR)],
      ['a last use with a space', [CREATED.toString(36), '', ' 1', 'ada'].join(SEPARATOR)],
      ['meta that is not JSON', `${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}{`],
      ['meta that is a list', `${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}["os"]`],
      ['meta with a number', `${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}{"os":1}`],
      ['meta with a __proto__ key', `${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}{"__proto__":"x"}`],
      ['meta with 17 entries', `${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}${JSON.stringify(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])))}`],
    ];

    it('is read when it is well formed, so the refusals below are about their flaw', () => {
      assert.equal(decodeRecord(valid, 'HGET').userId, 'ada');
      assert.deepEqual(decodeRecord(`${valid}${SEPARATOR}${SEPARATOR}${SEPARATOR}{"os":"ios"}`, 'HGET').meta, { os: 'ios' });
    });

    for (const [label, value] of bad) {
      it(`is a bad reply: ${label}`, () => assertBadReply(value));
    }
  });
});

describe('a user id', () => {
  it('is storable when non-empty and free of control characters, the separator included', () => {
    for (const id of ['ada', '7', 'Zoë', 'user@example.com', 'a b']) assert.equal(isStorableUserId(id), true, id);
    for (const id of ['', `a${SEPARATOR}b`, 'a\nb', 'a\x00b', 'a\x7fb']) assert.equal(isStorableUserId(id), false, JSON.stringify(id));
  });
});

describe('a device label', () => {
  it('is none when left out or empty', () => {
    assert.equal(readDevice(undefined), null);
    assert.equal(readDevice(null), null);
    assert.equal(readDevice(''), null);
  });

  it('has its control characters, a tab or the separator among them, turned into spaces', () => {
    assert.equal(readDevice(`Mozilla/5.0\t(X11)\x00x${SEPARATOR}y\x7fz`), 'Mozilla/5.0 (X11) x y z');
  });

  it('is cut to 256 characters', () => {
    assert.equal(readDevice('x'.repeat(256)), 'x'.repeat(256));
    assert.equal(readDevice('x'.repeat(300)), 'x'.repeat(256));
  });

  it('that is not a string is a TypeError naming device', () => {
    for (const value of [42, ['phone'], { name: 'phone' }]) assertNamed('device', () => readDevice(value));
  });
});

describe('token meta', () => {
  it('is empty when left out', () => {
    assert.deepEqual(readMeta(undefined), {});
    assert.deepEqual(readMeta(null), {});
  });

  it('holds up to 16 entries, and up to 160 bytes as stored (JSON in UTF-8)', () => {
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`${i}`, '']));
    assert.deepEqual(readMeta(sixteen), sixteen);
    // {"k":"…"} is 8 bytes around the value: 152 bytes of value fill it exactly.
    const full = { k: 'v'.repeat(152) };
    assert.equal(Buffer.byteLength(JSON.stringify(full)), 160);
    assert.deepEqual(readMeta(full), full);
  });

  it('past a bound, or not an object of strings, is a TypeError naming meta', () => {
    const cases: unknown[] = [
      Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
      { k: 'v'.repeat(153) },
      // Counted as stored: a control character takes 6 bytes in JSON, é takes 2 in UTF-8.
      { k: '\u0001'.repeat(26) },
      { k: 'é'.repeat(77) },
      { k: 1 },
      { k: null },
      ['os', 'ios'],
      'os=ios',
      JSON.parse('{"__proto__": "x"}'),
    ];
    for (const value of cases) assertNamed('meta', () => readMeta(value));
  });
});

describe("a record's end of life", () => {
  const base: StoredRecord = { userId: 'ada', createdAt: CREATED, expiresAt: null, lastUsedAt: null, scopes: ['*'], device: null, meta: {}, family: null, graceEnd: null };

  it('is never without an expiry or an idle timeout', () => {
    assert.equal(endOfLife(base, null), Infinity);
  });

  it('is its expiry without an idle timeout', () => {
    assert.equal(endOfLife({ ...base, expiresAt: CREATED + HOUR }, null), CREATED + HOUR);
  });

  it('is an idle timeout after its last use, or after its creation before the first use', () => {
    assert.equal(endOfLife(base, 10 * 60_000), CREATED + 10 * 60_000);
    assert.equal(endOfLife({ ...base, lastUsedAt: CREATED + HOUR }, 10 * 60_000), CREATED + HOUR + 10 * 60_000);
  });

  it('is the earlier of the two, whichever comes first', () => {
    const used = { ...base, lastUsedAt: CREATED + HOUR };
    assert.equal(endOfLife({ ...used, expiresAt: CREATED + 90 * 60_000 }, HOUR), CREATED + 90 * 60_000, 'the expiry first');
    assert.equal(endOfLife({ ...used, expiresAt: CREATED + 3 * HOUR }, HOUR), CREATED + 2 * HOUR, 'the idle deadline first');
  });
});
