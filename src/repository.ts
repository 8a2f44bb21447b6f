import { EventEmitter } from 'node:events';
import { ioRedisStore, isIoRedisClient, nodeRedisStore, type StoreClient } from './client.js';
import { MultiTokenStoreError } from './errors.js';
import { tagKey } from './keys.js';
import { isRedisUrl, positiveSeconds, readSettings, type DefaultUser, type MultiTokenRepositoryOptions, type Settings } from './options.js';
import { decodeRecord, endOfLife, isStorableUserId, readDevice, readMeta, recordTail, type StoredRecord } from './record.js';
import { CacheFence } from './fence.js';
import { CallDeadline, badReply, normaliseInteger, normaliseString, normaliseStrings, runReplicatedScript, runScript } from './redis.js';
import { CREATE_TOKEN, EXPIRE_TOKEN, EXPIRE_USER_TOKENS, LIST_TOKENS, SERVER_TIME, TOUCH_TOKEN, type LuaScript } from './scripts.js';
import { readScopes } from './scope.js';
import { generateToken, parseToken, routingTag, tokenId, type ParsedToken } from './token.js';

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
  /** When the token was issued, on the Redis server's clock. */
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
  /** The user the token was issued to. */
  user: User;
}

/** An entry of {@link MultiTokenRepository.listTokens}. */
export interface ListedToken extends TokenInfo {
  /** True for the token passed as `current`. */
  current: boolean;
}

/** Options of {@link MultiTokenRepository.createToken}. */
export interface CreateTokenOptions {
  /** Label of the device, such as a User-Agent. Control characters become spaces; cut to 256 characters. */
  device?: string | null;
  /** Lifetime in seconds of this token, or null for none. Default: the repository's `ttl`. */
  ttl?: number | null;
  /** Scopes granted to this token. Default `['*']` (all). */
  scopes?: readonly string[];
  /** Up to 16 string pairs stored with the token (keys up to 64, values up to 256 characters). */
  meta?: Record<string, string>;
}

/**
 * What `expireToken` and `expireOtherTokens` take: a token string, or token info that the
 * package produced (`req.authInfo`, the token from `createToken`, an entry of `listTokens`).
 */
export type TokenReference = string | TokenInfo;

/**
 * What Passport types `req.authInfo` as. Accepted so `expireToken(req.authInfo)` compiles;
 * anything but a token string or token info the package produced is refused with a TypeError
 * at run time.
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

/** Payload of the `touchFailed` event: a verification succeeded, but recording its use did not. */
export interface TokenTouchFailedEvent {
  id: string;
  userId: string;
  /** Why the write failed; it never holds the token. */
  error: MultiTokenStoreError;
}

/** The events a repository emits, for audit logs and metrics. */
export type MultiTokenEvents = {
  created: [TokenCreatedEvent];
  expired: [TokenExpiredEvent];
  touchFailed: [TokenTouchFailedEvent];
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

const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
// How often a verifying repository measures the server's clock again.
const CLOCK_SYNC_MS = 60_000;
const WRITES: ReadonlySet<LuaScript> = new Set([CREATE_TOKEN, EXPIRE_TOKEN, EXPIRE_USER_TOKENS]);

// Eviction policies already warned about in this process: one warning each.
const warnedPolicies = new Set<string>();

/** Warns once per process when Redis may evict keys, which would log users out. */
async function checkEvictionPolicy(store: StoreClient, routeKey: string): Promise<void> {
  let info: string | null;
  try {
    info = normaliseString(await store.command(['INFO', 'memory'], routeKey), 'INFO');
  } catch {
    return; // Not allowed (ACL) or not answered: the calls themselves report a broken server.
  }
  const policy = info === null ? undefined : /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy === undefined || policy === 'noeviction' || warnedPolicies.has(policy)) return;
  warnedPolicies.add(policy);
  process.emitWarning(
    `Redis runs with maxmemory-policy ${policy}: under memory pressure it may evict a user's tokens, ` +
      'logging that user out everywhere. Run the token store with maxmemory-policy noeviction.',
    { type: 'MultiTokenWarning', code: 'MULTITOKEN_EVICTION_POLICY' },
  );
}

// Token info objects the package handed out. `expireToken` takes these, never a look-alike
// object built from request data, which could name someone else's token.
const produced = new WeakSet();

interface OwnedClient {
  readonly isReady?: boolean;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  disconnect?(): Promise<unknown>;
}

/** Backoff of a connection the repository opens itself: quick, capped near half a second. */
function reconnectDelay(retries: number): number {
  return Math.min(25 * 2 ** retries, 400) + Math.floor(Math.random() * 100);
}

function tokenInfo(id: string, record: StoredRecord): TokenInfo {
  const info: TokenInfo = {
    id,
    userId: record.userId,
    device: record.device,
    scopes: record.scopes,
    meta: record.meta,
    createdAt: new Date(record.createdAt),
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    lastUsedAt: new Date(record.lastUsedAt ?? record.createdAt),
  };
  produced.add(info);
  return info;
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
  private store: StoreClient | undefined;
  private fence: CacheFence | undefined;
  private ownedClient: OwnedClient | undefined;
  private opening: Promise<StoreClient> | undefined;
  /** Whether this repository has served a call yet; options are fixed from then on. */
  protected started = false;
  private closed = false;
  private policyChecked = false;
  // The last token isWellFormed parsed: the strategy asks that, then authenticates the same
  // token in the same tick, so the parse and checksum run once per request.
  private lastParsed: ParsedToken | null = null;
  // Tokens whose touch is in flight: one touch per token at a time in this process.
  private readonly touching = new Set<string>();
  // How far the Redis server's clock is ahead of `clock()`, in ms; null until a reply told.
  // Records carry the server's times, so verification reads the server's clock, estimated
  // from this, whatever this host's clock says.
  private serverOffset: number | null = null;
  // When (on `clock()`) the offset was measured, and the measurement in flight, if any.
  private offsetMeasuredAt = -Infinity;
  private clockSync: Promise<void> | undefined;

  constructor(options?: MultiTokenRepositoryOptions<User>) {
    super();
    this.settings = readSettings(options);
    this.deadline = new CallDeadline(this.settings.timeout);
    this.attachGiven();
  }

  /** Replaces the options; only for a repository that has not started. */
  protected reconfigure(options: MultiTokenRepositoryOptions<User> | undefined): void {
    this.settings = readSettings(options);
    this.deadline = new CallDeadline(this.settings.timeout);
    this.store = undefined;
    this.fence = undefined;
    this.attachGiven();
  }

  private attachGiven(): void {
    const { redis } = this.settings;
    if (typeof redis !== 'object') return;
    this.attach(isIoRedisClient(redis) ? ioRedisStore(redis) : nodeRedisStore(redis));
  }

  private attach(store: StoreClient): void {
    const bound = this.settings.cacheFence;
    if (store.caching && bound !== null) {
      if (store.kind !== 'client') {
        throw new TypeError(
          'redis: only a single client-side-caching client can bound the revocation window (a pool, cluster or Sentinel client reads on connections one PING cannot fence); cache on a single client, or set cacheFence: null',
        );
      }
      this.fence = new CacheFence(bound, () => store.command(['PING'], ''));
    }
    if (this.settings.replicas > 0 && !store.canPin) {
      throw new TypeError('replicas needs the connection that owns each key, which this cluster client cannot name; use a node-redis 6 cluster, or replicas: 0');
    }
    this.store = store;
  }

  /** Marks the repository as started; on the first call, checks the server's eviction policy. */
  private begin(store: StoreClient, routeKey: string): void {
    this.started = true;
    if (this.policyChecked) return;
    this.policyChecked = true;
    void checkEvictionPolicy(store, routeKey);
  }

  private connection(): Promise<StoreClient> {
    this.started = true;
    if (this.closed) {
      return Promise.reject(new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed'));
    }
    if (this.store !== undefined) return Promise.resolve(this.store);
    this.opening ??= this.open();
    return this.opening;
  }

  private async open(): Promise<StoreClient> {
    const url = typeof this.settings.redis === 'string'
      ? this.settings.redis
      : process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (!isRedisUrl(url)) {
      throw new TypeError(`${typeof this.settings.redis === 'string' ? 'redis' : 'REDIS_URL'} must be a redis:// or rediss:// URL`);
    }
    let createClient: (options: { url: string; socket: { reconnectStrategy: (retries: number) => number } }) => unknown;
    try {
      ({ createClient } = await import('redis'));
    } catch (err) {
      throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The redis package is not installed', { cause: err });
    }
    if (this.closed) throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed');
    const client = createClient({ url, socket: { reconnectStrategy: reconnectDelay } }) as OwnedClient;
    // node-redis reports every failed reconnect as an 'error' event, and an unheard 'error'
    // would end the process. The calls that fail report it instead.
    client.on('error', () => {});
    // Commands queue until the connection is up; each one is still bound by the deadline.
    client.connect().catch(() => {});
    this.ownedClient = client;
    const store = nodeRedisStore(client as unknown as Parameters<typeof nodeRedisStore>[0]);
    this.attach(store);
    return store;
  }

  private userOf(user: User): { userId: string; key: string } {
    let raw: unknown;
    try {
      raw = this.settings.userId(user);
    } catch (err) {
      throw new TypeError('userId(user) threw; pass a user with an id', { cause: err });
    }
    if ((typeof raw !== 'string' && typeof raw !== 'number') || !isStorableUserId(String(raw))) {
      throw new TypeError('userId(user) gave no usable id: the user needs a non-empty id (string or number) without control characters');
    }
    const userId = String(raw);
    return { userId, key: tagKey(this.settings.keyPrefix, routingTag(userId)) };
  }

  private async script(script: LuaScript, key: string, args: string[]): Promise<unknown> {
    const store = await this.connection();
    this.begin(store, key);
    const { replicas } = this.settings;
    if (replicas > 0 && WRITES.has(script)) return runReplicatedScript(store, this.deadline, script, [key], args, replicas);
    return runScript(store, this.deadline, script, [key], args);
  }

  /**
   * Measures how far the server's clock is from `clock()`: one TIME script, its reply taken as
   * of the middle of the round trip. One measurement at a time; it never rejects, and until a
   * measurement succeeds the local clock stands in.
   */
  private syncServerClock(store: StoreClient, hashKey: string, due: number): Promise<void> {
    if (this.clockSync !== undefined) return this.clockSync;
    const { clock } = this.settings;
    const sent = clock();
    const sync: Promise<void> = runScript(store, this.deadline, SERVER_TIME, [hashKey], [], due)
      .then((reply) => {
        const received = clock();
        const at = normaliseInteger(reply, 'EVALSHA time');
        this.serverOffset = at - (sent + received) / 2;
        this.offsetMeasuredAt = received;
      })
      .catch(() => {
        // A failed measurement leaves the last one in force; the read reports a broken server.
      })
      .then(() => {
        if (this.clockSync === sync) this.clockSync = undefined;
      });
    this.clockSync = sync;
    return sync;
  }

  private parse(key: string): ParsedToken | null {
    const last = this.lastParsed;
    this.lastParsed = null;
    if (last !== null && last.key === key) return last;
    return parseToken(key, this.settings.tokenPrefix);
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
    const { userId, key: hashKey } = this.userOf(user);
    const device = readDevice(options.device);
    const scopes = options.scopes === undefined ? ['*'] : readScopes('scopes', options.scopes);
    const meta = readMeta(options.meta);
    const ttlMs = options.ttl === undefined ? this.settings.ttlMs : positiveSeconds('ttl', options.ttl, true);
    const { secrets, maxTokens, tokenPrefix, idleMs } = this.settings;

    const key = generateToken(tokenPrefix, routingTag(userId));
    const id = tokenId(key, secrets[0] ?? null);
    const reply = await this.script(CREATE_TOKEN, hashKey, [
      id,
      userId,
      ttlMs === null ? '' : String(ttlMs),
      String(idleMs ?? 0),
      String(maxTokens ?? 0),
      recordTail(scopes, device, meta),
    ]);
    if (!Array.isArray(reply) || reply.length < 2) throw badReply('EVALSHA create');
    const now = normaliseInteger(reply[0], 'EVALSHA create');
    const first = normaliseInteger(reply[1], 'EVALSHA create') === 1;
    const evicted = normaliseStrings(reply.slice(2), 'EVALSHA create');

    const token: IssuedToken<User> = {
      key,
      id,
      user,
      userId,
      device,
      scopes,
      meta,
      createdAt: new Date(now),
      expiresAt: ttlMs === null ? null : new Date(now + ttlMs),
      lastUsedAt: new Date(now),
    };
    produced.add(token);
    if (evicted.length > 0) this.emit('expired', { reason: 'evicted', userId, ids: evicted });
    this.emit('created', { id, userId, device, first });
    return { token, first };
  }

  /** Whether `key` has the shape and checksum of a token of this repository; no I/O. */
  isWellFormed(key: string): boolean {
    this.lastParsed = parseToken(key, this.settings.tokenPrefix);
    return this.lastParsed !== null;
  }

  /**
   * The user and token info of a live token, or null: one HGET (one HMGET with several
   * peppers), checks in process, and a `lastUsedAt` write at most once per `touchInterval`.
   * The whole call shares one deadline. A malformed token costs no I/O.
   * Rejects with {@link MultiTokenStoreError} when Redis cannot answer the read.
   */
  async authenticate(key: string): Promise<AuthenticatedToken<User> | null> {
    const parsed = this.parse(key);
    if (parsed === null) return null;
    const { keyPrefix, secrets, idleMs, touchMs, clock } = this.settings;
    // The usual case, a store at hand, skips a promise per verification.
    const store = this.store !== undefined && !this.closed ? this.store : await this.connection();
    const due = this.deadline.start();
    const hashKey = tagKey(keyPrefix, parsed.tag);
    if (!this.policyChecked) this.begin(store, hashKey);
    // The first verification measures the server's clock beside its read, and waits for it;
    // later ones measure it again in the background once a minute.
    let syncing: Promise<void> | undefined;
    if (this.serverOffset === null) syncing = this.syncServerClock(store, hashKey, due);
    else if (clock() - this.offsetMeasuredAt > CLOCK_SYNC_MS) void this.syncServerClock(store, hashKey, due);
    if (this.fence !== undefined) {
      const fenced = this.fence.ready(this.deadline, due);
      if (fenced !== undefined) await fenced;
    }
    let id: string;
    let stored: string | null;
    if (secrets.length === 1) {
      id = tokenId(parsed.key, secrets[0]!);
      stored = normaliseString(await this.deadline.guard(() => store.hGet(hashKey, id), 'HGET', due), 'HGET');
    } else {
      // Every pepper's id is a field of the same hash: one command, however many are listed.
      const ids = secrets.map((secret) => tokenId(parsed.key, secret));
      const reply = await this.deadline.guard(() => store.hmGet(hashKey, ids), 'HMGET', due);
      if (!Array.isArray(reply) || reply.length !== ids.length) throw badReply('HMGET');
      const at = reply.findIndex((value) => normaliseString(value, 'HMGET') !== null);
      if (at === -1) return null;
      id = ids[at]!;
      stored = normaliseString(reply[at], 'HMGET');
    }
    if (syncing !== undefined) await syncing;
    if (stored === null) return null;
    const record = decodeRecord(stored, 'HGET');
    const now = clock() + (this.serverOffset ?? 0);
    if (endOfLife(record, idleMs) <= now) return null;
    const found = this.settings.findUser(record.userId);
    const user = found instanceof Promise ? await found : found;
    if (user === null || user === undefined || (user as unknown) === false) return null;
    const token = tokenInfo(id, record);
    if (now - token.lastUsedAt.getTime() >= touchMs) {
      const touch = this.touch(store, hashKey, token, due);
      // With an idle timeout the touch is what keeps the token alive, so the answer waits for
      // it (within the same deadline); without one, it is bookkeeping and runs on its own, and
      // the answer shows the use recorded before this one.
      if (idleMs !== null) {
        const at = await touch;
        if (at > 0) token.lastUsedAt = new Date(at);
      }
    }
    return { user, token };
  }

  /**
   * Records a use of `token`: resolves with the time written, or 0 when nothing was. Never
   * rejects; a failure is reported as a `touchFailed` event.
   */
  private touch(store: StoreClient, hashKey: string, token: TokenInfo, due: number): Promise<number> {
    const flight = `${hashKey} ${token.id}`;
    if (this.touching.has(flight)) return Promise.resolve(0);
    this.touching.add(flight);
    const { touchMs, idleMs } = this.settings;
    return runScript(store, this.deadline, TOUCH_TOKEN, [hashKey], [token.id, String(touchMs), String(idleMs ?? 0)], due).then(
      (reply) => normaliseInteger(reply, 'EVALSHA touch'),
    ).then(
      (at) => {
        this.touching.delete(flight);
        return at;
      },
      (err: unknown) => {
        this.touching.delete(flight);
        const error = err instanceof MultiTokenStoreError ? err : new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'Redis touch failed', { cause: err });
        try {
          this.emit('touchFailed', { id: token.id, userId: token.userId, error });
        } catch (thrown) {
          // A listener that throws is the app's bug: surface it as an uncaught error, as an
          // emitter with no caller to reject would.
          process.nextTick(() => {
            throw thrown;
          });
        }
        return 0;
      },
    );
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
   * A look-alike object is a TypeError: to revoke by id, use `expireTokenById(user, id)`,
   * which checks the owner. Returns true when a live token was removed.
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
    const { tokenPrefix, secrets, keyPrefix } = this.settings;
    if (typeof keyOrToken === 'string') {
      const parsed = parseToken(keyOrToken, tokenPrefix);
      if (parsed === null) return false;
      const ids = secrets.map((secret) => tokenId(parsed.key, secret));
      return this.expireOne(tagKey(keyPrefix, parsed.tag), ids, '', 'logout');
    }
    const token = this.producedToken(keyOrToken, 'expireToken');
    if (!ID_PATTERN.test(token.id)) return false;
    return this.expireOne(tagKey(keyPrefix, routingTag(token.userId)), [token.id], token.userId, 'logout');
  }

  private producedToken(value: unknown, call: string): TokenInfo {
    if (value === null || typeof value !== 'object' || !produced.has(value)) {
      throw new TypeError(
        `${call} takes a token string, or token info this package produced (req.authInfo, a token from createToken); ` +
          'to revoke a token by its id, use expireTokenById(user, id)',
      );
    }
    return value as TokenInfo;
  }

  /**
   * Revokes one token of `user` by its public id, such as from `listTokens`. Returns true when
   * a live token was removed.
   */
  async expireTokenById(user: User, id: string): Promise<boolean> {
    const { userId, key } = this.userOf(user);
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) return false;
    return this.expireOne(key, [id], userId, 'revoked');
  }

  private async expireOne(hashKey: string, ids: string[], userId: string, reason: ExpireReason): Promise<boolean> {
    const reply = await this.script(EXPIRE_TOKEN, hashKey, [userId, String(this.settings.idleMs ?? 0), ...ids]);
    if (!Array.isArray(reply) || (reply.length !== 0 && reply.length !== 2)) throw badReply('EVALSHA expire');
    if (reply.length === 0) return false;
    const id = ids[normaliseInteger(reply[0], 'EVALSHA expire') - 1];
    const owner = normaliseString(reply[1], 'EVALSHA expire');
    if (id === undefined || owner === null) throw badReply('EVALSHA expire');
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
    const { userId, key } = this.userOf(user);
    return this.expireUserTokens(userId, key, [], 'logout-all');
  }

  /**
   * Revokes every token of `user` but `current`: "log out everywhere else". `current` is a
   * key, a token, or `req.authInfo`. Returns how many were removed.
   */
  async expireOtherTokens(user: User, current: TokenReference | AuthInfoLike | undefined): Promise<number> {
    const { userId, key } = this.userOf(user);
    return this.expireUserTokens(userId, key, this.idsOf(current, userId, 'expireOtherTokens'), 'logout-others');
  }

  private idsOf(current: TokenReference | AuthInfoLike | undefined, userId: string, call: string): string[] {
    if (typeof current === 'string') {
      const parsed = parseToken(current, this.settings.tokenPrefix);
      if (parsed === null) throw new TypeError('current is not a well-formed token');
      return this.settings.secrets.map((secret) => tokenId(parsed.key, secret));
    }
    const token = this.producedToken(current, call);
    if (token.userId !== userId) throw new TypeError('current belongs to another user');
    return [token.id];
  }

  private async expireUserTokens(userId: string, hashKey: string, keep: string[], reason: ExpireReason): Promise<number> {
    const reply = await this.script(EXPIRE_USER_TOKENS, hashKey, [userId, String(this.settings.idleMs ?? 0), ...keep]);
    const ids = normaliseStrings(reply, 'EVALSHA expire-user');
    if (ids.length > 0) this.emit('expired', { reason, userId, ids });
    return ids.length;
  }

  /**
   * The live tokens of `user`, newest first, without keys. Pass the current token (key, token
   * or `req.authInfo`) to have its entry marked `current`.
   */
  async listTokens(user: User, options: { current?: TokenReference | AuthInfoLike | undefined } = {}): Promise<ListedToken[]> {
    const { userId, key } = this.userOf(user);
    const currentIds = options.current === undefined ? [] : this.idsOf(options.current, userId, 'listTokens');
    const reply = await this.script(LIST_TOKENS, key, [userId, String(this.settings.idleMs ?? 0)]);
    if (!Array.isArray(reply) || reply.length % 2 !== 1) throw badReply('EVALSHA list');
    const list: ListedToken[] = [];
    for (let i = 1; i < reply.length; i += 2) {
      const id = normaliseString(reply[i], 'EVALSHA list');
      const value = normaliseString(reply[i + 1], 'EVALSHA list');
      if (id === null || value === null) throw badReply('EVALSHA list');
      const entry: ListedToken = { ...tokenInfo(id, decodeRecord(value, 'EVALSHA list')), current: currentIds.includes(id) };
      produced.add(entry);
      list.push(entry);
    }
    return list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1));
  }

  /**
   * Closes the connections this repository opened itself (its own client, and with `replicas`
   * the connection it writes on); a client passed in is left to its owner. Later calls reject
   * with `ERR_MULTITOKEN_STORE`.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.store?.close();
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
