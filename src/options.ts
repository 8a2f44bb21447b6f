import { isIoRedisClient, isNodeRedisClient, type IoRedisClientLike, type RedisClientLike } from './client.js';
import { HASH_MAX_FIELDS, isValidKeyPrefix } from './keys.js';
import { isValidTokenPrefix, pepperFingerprint } from './token.js';

// Reading and checking the repository's options. Every mistake is a TypeError naming the option.

/** The user type of the default `findUser`: an object with the id only. */
export interface DefaultUser {
  id: string;
}

/** Options of {@link MultiTokenRepository}. Every one is optional. */
export interface MultiTokenRepositoryOptions<User = DefaultUser> {
  /**
   * A node-redis client (standalone, cluster, sentinel or pool; node-redis 4.6, 5 or 6), an
   * ioredis `Redis` or `Cluster` (ioredis 5 or 6), or a URL. Default: `REDIS_URL`, else
   * `redis://127.0.0.1:6379`, opened with node-redis on first use.
   */
  redis?: RedisClientLike | IoRedisClientLike | string;
  /** Prefix of every Redis key. Must not contain `{` or `}`. Default `'rmt:'`. */
  keyPrefix?: string;
  /** What tokens start with, before `_`. A letter, then up to 15 letters or digits. Default `'rmt'`. */
  tokenPrefix?: string;
  /**
   * The id of a user: a non-empty, well-formed string without control characters, at most 256
   * bytes in UTF-8 (a number is turned into one). Anything else is a TypeError in every call
   * that takes a user. Default: `String(user.id)`.
   */
  userId?: (user: User) => string | number;
  /** The user of an id, or null (or undefined, or false) when the user is gone. Default: `(id) => ({ id })`. */
  findUser?: (id: string) => User | null | undefined | Promise<User | null | undefined>;
  /** Absolute lifetime of a token in seconds; `null` for none. Default 14 days (1209600). */
  ttl?: number | null;
  /** A token unused for this many seconds dies; `null` for none. Default `null`. */
  idleTimeout?: number | null;
  /** `lastUsedAt` is written at most once per this many seconds per token. Default 60. */
  touchInterval?: number;
  /**
   * Most live tokens per user, up to 500; a login beyond it evicts the nearest to their end.
   * `null` for no cap, where a login past 500 live tokens in the user's hash is refused with
   * `ERR_MULTITOKEN_HASH_FULL` instead. Default 100.
   */
  maxTokensPerUser?: number | null;
  /**
   * A pepper (16 bytes or more), or a list of them, newest first. With it, token digests are
   * HMAC-SHA-256. New tokens use the first; tokens of the others keep working while listed.
   * Default: none (plain SHA-256).
   */
  secret?: string | Buffer | readonly (string | Buffer)[];
  /** Deadline in ms for one call of the library: a whole verification shares one. Default 2000. */
  timeout?: number;
  /**
   * This host's clock (epoch ms). Stored times come from the Redis server's clock; the
   * repository measures the server's clock (one small script beside its first verification,
   * again each minute) and from then on carries that estimate on the monotonic clock
   * (`performance.now()`), so a step of this clock changes no verdict. This clock is read only
   * until the first measurement succeeds. Default `Date.now`.
   */
  clock?: () => number;
  /**
   * Creations and revocations wait until this many replicas hold them (`WAIT`, within
   * `timeout`), so a failover cannot bring a revoked token back; fewer in time rejects with
   * `ERR_MULTITOKEN_REPLICAS`. Default 0.
   */
  replicas?: number;
  /**
   * Creations and revocations wait until the write is in the AOF on disk (`WAITAOF 1 replicas`,
   * within `timeout`; with `replicas`, on that many replicas' disks too), so a crash of the
   * server cannot bring a revoked token back. Needs Redis 7.2+ or Valkey with `appendonly yes`;
   * elsewhere every such call rejects with `ERR_MULTITOKEN_UNSUPPORTED`, its write applied.
   * Fewer in time rejects with `ERR_MULTITOKEN_DURABILITY`. Default false.
   */
  durable?: boolean;
  /**
   * With a client-side-caching client: the most ms by which a revocation made anywhere may lag
   * in this process's cache. A cached answer is used only while the caching connection has
   * answered a PING sent within that bound. `null` turns the fence off. Default 100.
   */
  cacheFence?: number | null;
  /**
   * Theft detection for rotated tokens: a rotated-away token used after its grace revokes its
   * whole family and emits `reuseDetected`. `false`: it just dies when its grace ends. Default true.
   */
  reuseDetection?: boolean;
}

/** The options after checking, with their defaults applied. */
export interface Settings<User> {
  keyPrefix: string;
  tokenPrefix: string;
  userId: (user: User) => string | number;
  findUser: (id: string) => User | null | undefined | Promise<User | null | undefined>;
  ttlMs: number | null;
  idleMs: number | null;
  touchMs: number;
  maxTokens: number | null;
  secrets: (Buffer | null)[];
  /** The fingerprint of each of `secrets`, in the same order. */
  fingerprints: string[];
  /** What the scripts keep: the fingerprints joined; '' keeps the records of every pepper. */
  liveFingerprints: string;
  timeout: number;
  redis: RedisClientLike | IoRedisClientLike | string | undefined;
  clock: () => number;
  replicas: number;
  durable: boolean;
  cacheFence: number | null;
  reuseDetection: boolean;
}

/** Where a repository connects when given no `redis`, and `REDIS_URL` is unset. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The default `keyPrefix`. */
export const DEFAULT_KEY_PREFIX = 'rmt:';
/** The default `tokenPrefix`. */
export const DEFAULT_TOKEN_PREFIX = 'rmt';

const DAY = 86400;
// Keeps every stored time a safe integer of milliseconds.
const MAX_SECONDS = 100 * 365 * DAY;
const SECRET_MIN_BYTES = 16;

/** Reads a lifetime in seconds into milliseconds; null when allowed. */
export function positiveSeconds(name: string, value: unknown, allowNull: boolean): number | null {
  if (value === null && allowNull) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_SECONDS) {
    throw new TypeError(`${name} must be a positive number of seconds up to 100 years${allowNull ? ', or null' : ''}`);
  }
  return Math.round(value * 1000);
}

function readSecrets(value: unknown): (Buffer | null)[] {
  if (value === undefined) return [null];
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw new TypeError('secret must be a string, a Buffer, or a non-empty list of them');
  return list.map((item) => {
    const secret = typeof item === 'string' ? Buffer.from(item, 'utf8') : item;
    if (!Buffer.isBuffer(secret) || secret.length < SECRET_MIN_BYTES) {
      throw new TypeError(`secret must be a string or Buffer of at least ${SECRET_MIN_BYTES} bytes`);
    }
    return secret;
  });
}

/** Whether `value` is a redis:// or rediss:// URL. */
export function isRedisUrl(value: string): boolean {
  try {
    return ['redis:', 'rediss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** Checks every option and applies the defaults. */
export function readSettings<User>(options: MultiTokenRepositoryOptions<User> | undefined): Settings<User> {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError('MultiTokenRepository options must be an object');
  }
  const o = options ?? {};
  const keyPrefix = o.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (!isValidKeyPrefix(keyPrefix)) throw new TypeError('keyPrefix must be a string without { or }');
  const tokenPrefix = o.tokenPrefix ?? DEFAULT_TOKEN_PREFIX;
  if (!isValidTokenPrefix(tokenPrefix)) {
    throw new TypeError('tokenPrefix must be a letter followed by up to 15 letters or digits');
  }
  if (o.userId !== undefined && typeof o.userId !== 'function') throw new TypeError('userId must be a function');
  if (o.findUser !== undefined && typeof o.findUser !== 'function') throw new TypeError('findUser must be a function');
  if (o.clock !== undefined && typeof o.clock !== 'function') throw new TypeError('clock must be a function');
  const ttlMs = positiveSeconds('ttl', o.ttl === undefined ? 14 * DAY : o.ttl, true);
  const idleMs = positiveSeconds('idleTimeout', o.idleTimeout ?? null, true);
  const touchSeconds = o.touchInterval ?? 60;
  if (typeof touchSeconds !== 'number' || !Number.isFinite(touchSeconds) || touchSeconds < 0) {
    throw new TypeError('touchInterval must be a number of seconds, 0 or more');
  }
  const touchMs = Math.round(touchSeconds * 1000);
  if (idleMs !== null && touchMs >= idleMs) throw new TypeError('touchInterval must be shorter than idleTimeout');
  const maxTokens = o.maxTokensPerUser === undefined ? 100 : o.maxTokensPerUser;
  if (maxTokens !== null && (!Number.isSafeInteger(maxTokens) || maxTokens < 1 || maxTokens > HASH_MAX_FIELDS)) {
    throw new TypeError(`maxTokensPerUser must be a positive integer up to ${HASH_MAX_FIELDS}, or null`);
  }
  const timeout = o.timeout ?? 2000;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError('timeout must be a positive number of milliseconds');
  }
  const replicas = o.replicas ?? 0;
  if (!Number.isSafeInteger(replicas) || replicas < 0) throw new TypeError('replicas must be a whole number, 0 or more');
  const durable = o.durable ?? false;
  if (typeof durable !== 'boolean') throw new TypeError('durable must be true or false');
  const cacheFence = o.cacheFence === undefined ? 100 : o.cacheFence;
  if (cacheFence !== null && (typeof cacheFence !== 'number' || !Number.isFinite(cacheFence) || cacheFence <= 0)) {
    throw new TypeError('cacheFence must be a positive number of milliseconds, or null');
  }
  const reuseDetection = o.reuseDetection ?? true;
  if (typeof reuseDetection !== 'boolean') throw new TypeError('reuseDetection must be true or false');
  if (o.redis !== undefined && !(typeof o.redis === 'string' ? isRedisUrl(o.redis) : isNodeRedisClient(o.redis) || isIoRedisClient(o.redis))) {
    throw new TypeError('redis must be a node-redis client, an ioredis client, or a redis:// or rediss:// URL');
  }
  const secrets = readSecrets(o.secret);
  const fingerprints = secrets.map(pepperFingerprint);
  if (new Set(fingerprints).size !== fingerprints.length) {
    throw new TypeError('secret: two peppers share a fingerprint (1 chance in 16 million); generate another pepper');
  }
  return {
    keyPrefix,
    tokenPrefix,
    userId: o.userId ?? ((user: User) => (user as { id?: string | number } | null)?.id ?? ''),
    findUser: o.findUser ?? ((id: string) => ({ id }) as User),
    ttlMs,
    idleMs,
    touchMs,
    maxTokens,
    secrets,
    fingerprints,
    liveFingerprints: fingerprints.join(''),
    timeout,
    redis: o.redis,
    clock: o.clock ?? Date.now,
    replicas,
    durable,
    cacheFence,
    reuseDetection,
  };
}
