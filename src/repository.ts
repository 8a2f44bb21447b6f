import { EventEmitter } from 'node:events';
import { MultiTokenStoreError } from './errors.js';
import { isValidKeyPrefix, keySpace, type KeySpace } from './keys.js';
import {
  CallDeadline,
  badReply,
  normaliseHash,
  normaliseInteger,
  normaliseStrings,
  runScript,
  type RedisClientLike,
} from './redis.js';
import {
  CREATE_TOKEN,
  EXPIRE_TOKEN,
  EXPIRE_USER_TOKENS,
  LIST_TOKENS,
  NO_EXPIRY_SCORE,
  TOUCH_TOKEN,
  type LuaScript,
} from './scripts.js';
import { readScopes } from './scope.js';
import { generateToken, isValidTokenPrefix, parseToken, routingTag, tokenId } from './token.js';

/** The user type of the default `findUser`: an object with the id only. */
export interface DefaultUser {
  id: string;
}

/** Options of {@link MultiTokenRepository}. Every one is optional. */
export interface MultiTokenRepositoryOptions<User = DefaultUser> {
  /**
   * A connected node-redis client (standalone, cluster, sentinel or pool; node-redis 4.6, 5 or
   * 6), or a URL. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`, opened on first use.
   */
  redis?: RedisClientLike | string;
  /** Prefix of every Redis key. Must not contain `{` or `}`. Default `'rmt:'`. */
  keyPrefix?: string;
  /** What tokens start with, before `_`. A letter, then up to 15 letters or digits. Default `'rmt'`. */
  tokenPrefix?: string;
  /** The id of a user, as a non-empty string. Default: `String(user.id)`. */
  userId?: (user: User) => string | number;
  /** The user of an id, or null (or undefined, or false) when the user is gone. Default: `(id) => ({ id })`. */
  findUser?: (id: string) => User | null | undefined | Promise<User | null | undefined>;
  /** Absolute lifetime of a token in seconds; `null` for none. Default 14 days (1209600). */
  ttl?: number | null;
  /** A token unused for this many seconds dies; `null` for none. Default `null`. */
  idleTimeout?: number | null;
  /** `lastUsedAt` is written at most once per this many seconds per token. Default 60. */
  touchInterval?: number;
  /** Most live tokens per user; a login beyond it evicts the nearest to their end. Default `null` (no cap). */
  maxTokensPerUser?: number | null;
  /**
   * A pepper (16 bytes or more), or a list of them, newest first. With it, token digests are
   * HMAC-SHA-256. New tokens use the first; tokens of the others keep working while listed.
   * Default: none (plain SHA-256).
   */
  secret?: string | Buffer | readonly (string | Buffer)[];
  /** Deadline in ms for each Redis call the library makes. Default 2000. */
  timeout?: number;
}

/** What the package keeps about one token. It never holds the token itself. */
export interface TokenInfo {
  /** Public id of the token: safe to show, log and pass to `expireTokenById`. */
  id: string;
  /** Id of the user the token belongs to. */
  userId: string;
  /** Label of the device, or null. */
  device: string | null;
  /** Scopes granted; `['*']` grants every scope. */
  scopes: string[];
  /** Small string map stored with the token. */
  meta: Record<string, string>;
  createdAt: Date;
  /** End of the token's absolute lifetime, or null for none. */
  expiresAt: Date | null;
  /** Last recorded use, to within `touchInterval`; the creation time until first use. */
  lastUsedAt: Date;
}

/** A token as {@link MultiTokenRepository.createToken} returns it: the only time `key` is seen. */
export interface IssuedToken<User> extends TokenInfo {
  /** The bearer token to hand to the client. It is not stored anywhere. */
  key: string;
  user: User;
}

/** An entry of {@link MultiTokenRepository.listTokens}. */
export interface ListedToken extends TokenInfo {
  /** True for the token passed as `current`. */
  current: boolean;
}

/** Options of {@link MultiTokenRepository.createToken}. */
export interface CreateTokenOptions {
  /** Label of the device, such as a User-Agent. Cut to 256 characters; no control characters. */
  device?: string | null;
  /** Lifetime in seconds of this token, or null for none. Default: the repository's `ttl`. */
  ttl?: number | null;
  /** Scopes granted to this token. Default `['*']` (all). */
  scopes?: readonly string[];
  /** Up to 16 string pairs stored with the token (keys up to 64, values up to 256 characters). */
  meta?: Record<string, string>;
}

/** What `expireToken` and `expireOtherTokens` take: a key, a token, or `req.authInfo`. */
export type TokenReference = string | { id: string; userId: string };

/**
 * What Passport types `req.authInfo` as. Accepted so `expireToken(req.authInfo)` compiles;
 * anything but a token reference is refused with a TypeError at run time.
 */
export interface AuthInfoLike {
  readonly id?: unknown;
  readonly userId?: unknown;
}

/** Why tokens were removed. */
export type ExpireReason = 'logout' | 'logout-all' | 'logout-others' | 'evicted' | 'revoked';

/** Payload of the `created` event. */
export interface TokenCreatedEvent {
  id: string;
  userId: string;
  device: string | null;
  first: boolean;
}

/** Payload of the `expired` event. */
export interface TokenExpiredEvent {
  reason: ExpireReason;
  /** The owner of the tokens. */
  userId: string;
  ids: string[];
}

/** The events a repository emits, for audit logs. */
export type MultiTokenEvents = {
  created: [TokenCreatedEvent];
  expired: [TokenExpiredEvent];
};

/** The result of a successful {@link MultiTokenRepository.authenticate}. */
export interface AuthenticatedToken<User> {
  user: User;
  token: TokenInfo;
}

/** The part of a repository that {@link RedisMultiTokenStrategy} needs. */
export interface TokenAuthenticator<User> {
  /** The user and token info of a live token, or null. Never throws for a bad token. */
  authenticate(key: string): Promise<AuthenticatedToken<User> | null>;
  /** Whether `key` has the shape and checksum of a token of this repository; no I/O. */
  isWellFormed(key: string): boolean;
}

const DAY = 86400;
// Keeps every stored time a safe integer of milliseconds, far below the no-expiry index score.
const MAX_SECONDS = 100 * 365 * DAY;
const DEVICE_MAX = 256;
const META_ENTRIES_MAX = 16;
const META_KEY_MAX = 64;
const META_VALUE_MAX = 256;
const SECRET_MIN_BYTES = 16;
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1F\x7F]/;

interface Settings<User> {
  keys: KeySpace;
  tokenPrefix: string;
  userId: (user: User) => string | number;
  findUser: (id: string) => User | null | undefined | Promise<User | null | undefined>;
  ttlMs: number | null;
  idleMs: number | null;
  touchMs: number;
  maxTokens: number | null;
  secrets: (Buffer | null)[];
  timeout: number;
  redis: RedisClientLike | string | undefined;
}

interface OwnedClient extends RedisClientLike {
  readonly isReady?: boolean;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

function positiveSeconds(name: string, value: unknown, allowNull: boolean): number | null {
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

function isRedisUrl(value: string): boolean {
  try {
    return ['redis:', 'rediss:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function isClient(value: unknown): value is RedisClientLike {
  if (value === null || typeof value !== 'object') return false;
  const client = value as Record<string, unknown>;
  return typeof client.hGetAll === 'function' && typeof client.evalSha === 'function' && typeof client.eval === 'function';
}

function readSettings<User>(options: MultiTokenRepositoryOptions<User> | undefined): Settings<User> {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new TypeError('MultiTokenRepository options must be an object');
  }
  const o = options ?? {};
  const keyPrefix = o.keyPrefix ?? 'rmt:';
  if (!isValidKeyPrefix(keyPrefix)) throw new TypeError('keyPrefix must be a string without { or }');
  const tokenPrefix = o.tokenPrefix ?? 'rmt';
  if (!isValidTokenPrefix(tokenPrefix)) {
    throw new TypeError('tokenPrefix must be a letter followed by up to 15 letters or digits');
  }
  if (o.userId !== undefined && typeof o.userId !== 'function') throw new TypeError('userId must be a function');
  if (o.findUser !== undefined && typeof o.findUser !== 'function') throw new TypeError('findUser must be a function');
  const ttlMs = positiveSeconds('ttl', o.ttl === undefined ? 14 * DAY : o.ttl, true);
  const idleMs = positiveSeconds('idleTimeout', o.idleTimeout ?? null, true);
  const touchSeconds = o.touchInterval ?? 60;
  if (typeof touchSeconds !== 'number' || !Number.isFinite(touchSeconds) || touchSeconds < 0) {
    throw new TypeError('touchInterval must be a number of seconds, 0 or more');
  }
  const touchMs = Math.round(touchSeconds * 1000);
  if (idleMs !== null && touchMs >= idleMs) throw new TypeError('touchInterval must be shorter than idleTimeout');
  const maxTokens = o.maxTokensPerUser ?? null;
  if (maxTokens !== null && (!Number.isSafeInteger(maxTokens) || maxTokens < 1)) {
    throw new TypeError('maxTokensPerUser must be a positive integer or null');
  }
  const timeout = o.timeout ?? 2000;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError('timeout must be a positive number of milliseconds');
  }
  if (o.redis !== undefined && !(typeof o.redis === 'string' ? isRedisUrl(o.redis) : isClient(o.redis))) {
    throw new TypeError('redis must be a node-redis client or a redis:// or rediss:// URL');
  }
  return {
    keys: keySpace(keyPrefix),
    tokenPrefix,
    userId: o.userId ?? ((user: User) => (user as { id?: string | number } | null)?.id ?? ''),
    findUser: o.findUser ?? ((id: string) => ({ id }) as User),
    ttlMs,
    idleMs,
    touchMs,
    maxTokens,
    secrets: readSecrets(o.secret),
    timeout,
    redis: o.redis,
  };
}

function readDevice(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new TypeError('device must be a string');
  if (CONTROL_CHARS.test(value)) throw new TypeError('device must not contain control characters');
  const device = value.slice(0, DEVICE_MAX);
  return device === '' ? null : device;
}

function readMeta(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('meta must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > META_ENTRIES_MAX) throw new TypeError(`meta holds at most ${META_ENTRIES_MAX} entries`);
  const meta: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (key === '__proto__') throw new TypeError('meta must not have a __proto__ key');
    if (key.length > META_KEY_MAX || typeof item !== 'string' || item.length > META_VALUE_MAX) {
      throw new TypeError(`meta keys are at most ${META_KEY_MAX} and values at most ${META_VALUE_MAX} characters, all strings`);
    }
    meta[key] = item;
  }
  return meta;
}

function readTime(fields: Record<string, string>, name: string): number | null {
  const raw = fields[name];
  if (raw === undefined) return null;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw badReply('HGETALL');
  return value;
}

/** Reads a stored token record; a record the package did not write is a bad reply. */
function readRecord(id: string, fields: Record<string, string>): TokenInfo {
  const userId = fields.u;
  const createdAt = readTime(fields, 'c');
  if (userId === undefined || userId === '' || createdAt === null) throw badReply('HGETALL');
  const expiresAt = readTime(fields, 'e');
  let meta: Record<string, string> = {};
  if (fields.m !== undefined) {
    try {
      meta = readMeta(JSON.parse(fields.m));
    } catch {
      throw badReply('HGETALL');
    }
  }
  return {
    id,
    userId,
    device: fields.d ?? null,
    scopes: fields.s === undefined || fields.s === '' ? ['*'] : fields.s.split(' '),
    meta,
    createdAt: new Date(createdAt),
    expiresAt: expiresAt === null ? null : new Date(expiresAt),
    lastUsedAt: new Date(readTime(fields, 'l') ?? createdAt),
  };
}

function isReference(value: unknown): value is { id: string; userId: string } {
  if (value === null || typeof value !== 'object') return false;
  const ref = value as Record<string, unknown>;
  return typeof ref.id === 'string' && typeof ref.userId === 'string';
}

/**
 * Hashed, multi-device bearer tokens in Redis. Each user holds many tokens; each can be
 * revoked alone, all at once, or all but the current one. Redis holds digests only.
 *
 * @example
 * ```ts
 * const tokens = new MultiTokenRepository<User>({ redis, findUser: (id) => db.users.byId(id) });
 * const { token } = await tokens.createToken(user, { device: req.get('user-agent') });
 * res.json({ token: token.key });
 * ```
 */
export class MultiTokenRepository<User = DefaultUser>
  extends EventEmitter<MultiTokenEvents>
  implements TokenAuthenticator<User>
{
  /** Resolved options; replaced only by `MultiToken.configure()` before first use. */
  protected settings: Settings<User>;
  /** The deadline keeper of this repository's Redis calls. */
  protected deadline: CallDeadline;
  private client: RedisClientLike | undefined;
  private ownedClient: OwnedClient | undefined;
  private opening: Promise<RedisClientLike> | undefined;
  /** Whether this repository has served a call yet; options are fixed from then on. */
  protected started = false;
  private closed = false;

  constructor(options?: MultiTokenRepositoryOptions<User>) {
    super();
    this.settings = readSettings(options);
    this.deadline = new CallDeadline(this.settings.timeout);
    if (typeof this.settings.redis === 'object') this.client = this.settings.redis;
  }

  /** Replaces the options; only for a repository that has not started. */
  protected reconfigure(options: MultiTokenRepositoryOptions<User> | undefined): void {
    this.settings = readSettings(options);
    this.deadline = new CallDeadline(this.settings.timeout);
    this.client = typeof this.settings.redis === 'object' ? this.settings.redis : undefined;
  }

  private connection(): Promise<RedisClientLike> {
    this.started = true;
    if (this.closed) {
      return Promise.reject(new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed'));
    }
    if (this.client !== undefined) return Promise.resolve(this.client);
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<RedisClientLike> {
    const url = typeof this.settings.redis === 'string'
      ? this.settings.redis
      : process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (!isRedisUrl(url)) {
      throw new TypeError(`${typeof this.settings.redis === 'string' ? 'redis' : 'REDIS_URL'} must be a redis:// or rediss:// URL`);
    }
    let createClient: (options: { url: string }) => unknown;
    try {
      ({ createClient } = await import('redis'));
    } catch (err) {
      throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The redis package is not installed', { cause: err });
    }
    if (this.closed) throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed');
    const client = createClient({ url }) as OwnedClient;
    // node-redis reports every failed reconnect as an 'error' event, and an unheard 'error'
    // would end the process. The calls that fail report it instead.
    client.on('error', () => {});
    // Commands queue until the connection is up; each one is still bound by the deadline.
    client.connect().catch(() => {});
    this.ownedClient = client;
    this.client = client;
    return client;
  }

  private tagOf(user: User): { userId: string; tag: string } {
    let raw: unknown;
    try {
      raw = this.settings.userId(user);
    } catch (err) {
      throw new TypeError('userId(user) threw; pass a user with an id', { cause: err });
    }
    if ((typeof raw !== 'string' && typeof raw !== 'number') || String(raw) === '') {
      throw new TypeError('userId(user) gave no id: the user needs a non-empty id (string or number)');
    }
    const userId = String(raw);
    return { userId, tag: routingTag(userId) };
  }

  private script(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return this.connection().then((client) => runScript(client, this.deadline, script, { keys, arguments: args }));
  }

  private lifetimeScore(now: number, ttlMs: number | null): number {
    const idle = this.settings.idleMs;
    const end = Math.min(ttlMs === null ? Infinity : now + ttlMs, idle === null ? Infinity : now + idle);
    return end === Infinity ? NO_EXPIRY_SCORE + now : end;
  }

  /**
   * Issues a new token for `user`. `first` is true when the user had no other live token.
   *
   * @example
   * ```ts
   * const { token, first } = await MultiToken.createToken(req.user, { device: req.get('user-agent') });
   * res.json({ token: token.key, firstDevice: first });
   * ```
   */
  async createToken(user: User, options: CreateTokenOptions = {}): Promise<{ token: IssuedToken<User>; first: boolean }> {
    const { userId, tag } = this.tagOf(user);
    const device = readDevice(options.device);
    const scopes = options.scopes === undefined ? ['*'] : readScopes('scopes', options.scopes);
    const meta = readMeta(options.meta);
    const ttlMs = options.ttl === undefined ? this.settings.ttlMs : positiveSeconds('ttl', options.ttl, true);
    const { keys, secrets, maxTokens, tokenPrefix } = this.settings;

    const now = Date.now();
    const key = generateToken(tokenPrefix, tag);
    const id = tokenId(key, secrets[0] ?? null);
    const expiresAt = ttlMs === null ? null : now + ttlMs;
    // `l` (last used) is written by the first touch; until then it reads as `c`.
    const fields = ['u', userId, 'c', String(now)];
    if (expiresAt !== null) fields.push('e', String(expiresAt));
    if (device !== null) fields.push('d', device);
    if (scopes.length !== 1 || scopes[0] !== '*') fields.push('s', scopes.join(' '));
    if (Object.keys(meta).length > 0) fields.push('m', JSON.stringify(meta));

    const reply = await this.script(
      CREATE_TOKEN,
      [keys.indexKey(tag, userId), keys.tokenKey(tag, id)],
      [String(now), id, keys.tokenKeyPrefix(tag), String(this.lifetimeScore(now, ttlMs)), String(maxTokens ?? 0), ...fields],
    );
    if (!Array.isArray(reply) || reply.length === 0) throw badReply('EVALSHA create');
    const first = normaliseInteger(reply[0], 'EVALSHA create') === 1;
    const evicted = normaliseStrings(reply.slice(1), 'EVALSHA create');

    const token: IssuedToken<User> = {
      key,
      id,
      user,
      userId,
      device,
      scopes,
      meta,
      createdAt: new Date(now),
      expiresAt: expiresAt === null ? null : new Date(expiresAt),
      lastUsedAt: new Date(now),
    };
    if (evicted.length > 0) this.emit('expired', { reason: 'evicted', userId, ids: evicted });
    this.emit('created', { id, userId, device, first });
    return { token, first };
  }

  /** Whether `key` has the shape and checksum of a token of this repository; no I/O. */
  isWellFormed(key: string): boolean {
    return parseToken(key, this.settings.tokenPrefix) !== null;
  }

  /**
   * The user and token info of a live token, or null: one HGETALL, checks in process, and a
   * `lastUsedAt` write at most once per `touchInterval`. A malformed token costs no I/O.
   * Rejects with {@link MultiTokenStoreError} when Redis cannot answer.
   */
  async authenticate(key: string): Promise<AuthenticatedToken<User> | null> {
    const { keys, tokenPrefix, secrets, idleMs, touchMs } = this.settings;
    const parsed = parseToken(key, tokenPrefix);
    if (parsed === null) return null;
    // The usual case, a client at hand, skips a promise per verification.
    const client = this.client !== undefined && !this.closed ? this.client : await this.connection();
    this.started = true;
    for (const secret of secrets) {
      const id = tokenId(parsed.key, secret);
      const tokenKey = keys.tokenKey(parsed.tag, id);
      const fields = normaliseHash(await this.deadline.guard(() => client.hGetAll(tokenKey), 'HGETALL'));
      if (fields.u === undefined) continue;
      const token = readRecord(id, fields);
      const now = Date.now();
      if (!this.isLive(token, now)) return null;
      const lastUsed = token.lastUsedAt.getTime();
      const found = this.settings.findUser(token.userId);
      const user = found instanceof Promise ? await found : found;
      if (user === null || user === undefined || (user as unknown) === false) return null;
      if (now - lastUsed >= touchMs) {
        const wrote = await runScript(client, this.deadline, TOUCH_TOKEN, {
          keys: [tokenKey, keys.indexKey(parsed.tag, token.userId)],
          arguments: [String(now), String(touchMs), String(idleMs ?? 0), id],
        });
        if (normaliseInteger(wrote, 'EVALSHA touch') === 1) token.lastUsedAt = new Date(now);
      }
      return { user, token };
    }
    return null;
  }

  /** Whether a stored token is within its absolute and idle lifetimes; Redis expiry agrees, give or take clocks. */
  private isLive(token: TokenInfo, now: number): boolean {
    const { idleMs } = this.settings;
    if (token.expiresAt !== null && token.expiresAt.getTime() <= now) return false;
    return idleMs === null || token.lastUsedAt.getTime() + idleMs > now;
  }

  /**
   * The user of a live token, or null.
   *
   * @example
   * ```ts
   * const user = await MultiToken.getUserFromToken(key);
   * ```
   */
  async getUserFromToken(key: string): Promise<User | null> {
    return (await this.authenticate(key))?.user ?? null;
  }

  /**
   * Revokes one token: by its key, by the token `createToken` returned, or by `req.authInfo`.
   * Returns true when a live token was removed.
   *
   * @example
   * ```ts
   * app.post('/logout', passport.authenticate('redis-multi-token'), async (req, res) => {
   *   await MultiToken.expireToken(req.authInfo);
   *   res.sendStatus(204);
   * });
   * ```
   */
  async expireToken(keyOrToken: TokenReference | AuthInfoLike | undefined): Promise<boolean> {
    const { tokenPrefix, secrets } = this.settings;
    if (typeof keyOrToken === 'string') {
      const parsed = parseToken(keyOrToken, tokenPrefix);
      if (parsed === null) return false;
      const ids = secrets.map((secret) => tokenId(parsed.key, secret));
      return this.expireOne(parsed.tag, ids, '', 'logout');
    }
    if (!isReference(keyOrToken)) {
      throw new TypeError('expireToken takes a token string, a token from createToken, or req.authInfo');
    }
    if (!ID_PATTERN.test(keyOrToken.id)) return false;
    return this.expireOne(routingTag(keyOrToken.userId), [keyOrToken.id], keyOrToken.userId, 'logout');
  }

  /**
   * Revokes one token of `user` by its public id, such as from `listTokens`. Returns true when
   * a live token was removed.
   */
  async expireTokenById(user: User, id: string): Promise<boolean> {
    const { userId, tag } = this.tagOf(user);
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) return false;
    return this.expireOne(tag, [id], userId, 'revoked');
  }

  private async expireOne(tag: string, ids: string[], userId: string, reason: ExpireReason): Promise<boolean> {
    const { keys } = this.settings;
    const reply = await this.script(
      EXPIRE_TOKEN,
      ids.map((id) => keys.tokenKey(tag, id)),
      [keys.indexKeyPrefix(tag), userId, String(Date.now()), ...ids],
    );
    const removed = normaliseStrings(reply, 'EVALSHA expire');
    if (removed.length === 0) return false;
    const [position, owner] = removed;
    const id = ids[Number(position) - 1];
    if (removed.length !== 2 || id === undefined || owner === undefined) throw badReply('EVALSHA expire');
    this.emit('expired', { reason, userId: owner, ids: [id] });
    return true;
  }

  /**
   * Revokes every token of `user`: "log out everywhere". Returns how many were live.
   *
   * @example
   * ```ts
   * await MultiToken.expireAllTokens(req.user);
   * ```
   */
  async expireAllTokens(user: User): Promise<number> {
    const { userId, tag } = this.tagOf(user);
    return this.expireUserTokens(userId, tag, [], 'logout-all');
  }

  /**
   * Revokes every token of `user` but `current`: "log out everywhere else". `current` is a
   * key, a token, or `req.authInfo`. Returns how many were removed.
   */
  async expireOtherTokens(user: User, current: TokenReference | AuthInfoLike | undefined): Promise<number> {
    const { userId, tag } = this.tagOf(user);
    return this.expireUserTokens(userId, tag, this.idsOf(current, userId), 'logout-others');
  }

  private idsOf(current: TokenReference | AuthInfoLike | undefined, userId: string): string[] {
    if (typeof current === 'string') {
      const parsed = parseToken(current, this.settings.tokenPrefix);
      if (parsed === null) throw new TypeError('current is not a well-formed token');
      return this.settings.secrets.map((secret) => tokenId(parsed.key, secret));
    }
    if (!isReference(current)) {
      throw new TypeError('current must be a token string, a token from createToken, or req.authInfo');
    }
    if (current.userId !== userId) throw new TypeError('current belongs to another user');
    return [current.id];
  }

  private async expireUserTokens(userId: string, tag: string, keep: string[], reason: ExpireReason): Promise<number> {
    const { keys } = this.settings;
    const reply = await this.script(
      EXPIRE_USER_TOKENS,
      [keys.indexKey(tag, userId)],
      [keys.tokenKeyPrefix(tag), String(Date.now()), ...keep],
    );
    const ids = normaliseStrings(reply, 'EVALSHA expire-user');
    if (ids.length > 0) this.emit('expired', { reason, userId, ids });
    return ids.length;
  }

  /**
   * The live tokens of `user`, newest first, without keys. Pass the current token (key, token
   * or `req.authInfo`) to have its entry marked `current`.
   */
  async listTokens(user: User, options: { current?: TokenReference | AuthInfoLike | undefined } = {}): Promise<ListedToken[]> {
    const { userId, tag } = this.tagOf(user);
    const { keys } = this.settings;
    const currentIds = options.current === undefined ? [] : this.idsOf(options.current, userId);
    const now = Date.now();
    const reply = await this.script(LIST_TOKENS, [keys.indexKey(tag, userId)], [keys.tokenKeyPrefix(tag), String(now)]);
    if (!Array.isArray(reply) || reply.length % 2 !== 0) throw badReply('EVALSHA list');
    const list: ListedToken[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      const [id] = normaliseStrings([reply[i]], 'EVALSHA list');
      if (id === undefined) throw badReply('EVALSHA list');
      const token = readRecord(id, normaliseHash(reply[i + 1]));
      if (this.isLive(token, now)) list.push({ ...token, current: currentIds.includes(id) });
    }
    return list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  /**
   * Closes the connection this repository opened itself; a client passed in is left to its
   * owner. Later calls reject with `ERR_MULTITOKEN_STORE`.
   */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.ownedClient;
    this.ownedClient = undefined;
    if (client === undefined) return;
    // A connection that is up closes politely, letting calls in flight finish; one that is
    // down or still connecting, or that cannot close in time, is torn down.
    if (client.isReady === true) {
      try {
        if (client.close !== undefined) await this.deadline.guard(() => client.close!(), 'CLOSE');
        else if (client.quit !== undefined) await this.deadline.guard(() => client.quit!(), 'QUIT');
        return;
      } catch {
        // fall through to the teardown
      }
    }
    try {
      if (client.destroy !== undefined) client.destroy();
      else await client.disconnect?.();
    } catch {
      // Already torn down.
    }
  }
}
