import { EventEmitter } from 'node:events';
import { StoreConnection } from './connection.js';
import { CallDeadline } from './deadline.js';
import { MultiTokenError } from './errors.js';
import { HASH_MAX_FIELDS, tagKey } from './keys.js';
import { positiveSeconds, readSettings, type DefaultUser, type MultiTokenRepositoryOptions, type Settings } from './options.js';
import { readDevice, readMeta, readUserId, recordTail } from './record.js';
import { badReply, normaliseInteger, normaliseString, normaliseStrings } from './replies.js';
import { runScript } from './run-script.js';
import { rotate, type RotationHost } from './rotation.js';
import { readTokenScopes } from './scope.js';
import { EXPIRE_TOKEN, EXPIRE_USER_TOKENS, LIST_TOKENS, REVOKE_FAMILY, ROTATE_TOKEN, type LuaScript } from './scripts.js';
import { ServerClock } from './server-clock.js';
import { TokenToucher } from './touch.js';
import { offerVerifyInto, Verifier, type VerifyReceiver } from './verify.js';
import { runCreate, runWaitedScript, waitsOf, type CreatedToken } from './waited-write.js';
import { generateToken, isTokenId, parseToken, routingTag, tokenId, tokenIds, tokenTag } from './token.js';
import { listedTokens, markProduced, producedToken } from './token-info.js';
import type {
  AuthenticatedToken,
  AuthInfoLike,
  CreateTokenOptions,
  ExpireReason,
  IssuedToken,
  ListedToken,
  MultiTokenEvents,
  RotateTokenOptions,
  TokenAuthenticator,
  TokenReference,
} from './types.js';

// The token operations: one script (or, to verify, one read) per call, on the one hash of the
// user's routing tag. The rooms beside it hold the rest: the public types (types.ts), the
// server's clock (server-clock.ts), the connection opened from a URL (connection.ts), and the
// token info handed out (token-info.ts).

// With `replicas` or `durable`, these wait until their write is held where asked.
const WAITED: ReadonlySet<LuaScript> = new Set([EXPIRE_TOKEN, EXPIRE_USER_TOKENS, ROTATE_TOKEN, REVOKE_FAMILY]);

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
  private connection: StoreConnection;
  /** Whether this repository has served a call yet; options are fixed from then on. */
  protected started = false;
  // The last token isWellFormed found good, and its tag: the strategy asks that, then
  // authenticates the same token in the same tick, so the checksum runs once per request.
  private lastKey: string | null = null;
  private lastTag = '';
  private toucher: TokenToucher;
  private verifier: Verifier<User>;
  // Records carry the server's times, so verification reads the server's clock.
  private serverClock: ServerClock;

  constructor(options?: MultiTokenRepositoryOptions<User>) {
    super();
    this.settings = readSettings(options);
    this.connection = new StoreConnection(this.settings);
    this.deadline = new CallDeadline(this.settings.timeout, this.connection);
    this.serverClock = new ServerClock(this.settings.clock, this.deadline);
    this.toucher = new TokenToucher(this.settings, this.deadline, this);
    this.verifier = this.newVerifier();
    offerVerifyInto(this, (key: string, receiver: VerifyReceiver<User>) => this.verifyInto(key, receiver));
  }

  /** Replaces the options; only for a repository that has not started. */
  protected reconfigure(options: MultiTokenRepositoryOptions<User> | undefined): void {
    this.settings = readSettings(options);
    this.connection = new StoreConnection(this.settings);
    this.deadline = new CallDeadline(this.settings.timeout, this.connection);
    this.serverClock = new ServerClock(this.settings.clock, this.deadline);
    this.toucher = new TokenToucher(this.settings, this.deadline, this);
    this.verifier = this.newVerifier();
  }

  private newVerifier(): Verifier<User> {
    const { settings, connection, deadline, serverClock, toucher, rotation } = this;
    return new Verifier({ settings, connection, deadline, serverClock, toucher, rotation });
  }

  private userOf(user: User): { userId: string; key: string } {
    let raw: unknown;
    try {
      raw = this.settings.userId(user);
    } catch (err) {
      throw new TypeError('userId(user) threw; pass a user with an id', { cause: err });
    }
    const userId = readUserId(raw);
    return { userId, key: tagKey(this.settings.keyPrefix, routingTag(userId)) };
  }

  private async script(script: LuaScript, key: string, args: string[], due?: number): Promise<unknown> {
    this.started = true;
    const store = await this.connection.ready(key);
    const waits = waitsOf(this.settings);
    if (waits !== null && WAITED.has(script)) return runWaitedScript(store, this.deadline, script, [key], args, waits, due);
    return runScript(store, this.deadline, script, [key], args, due);
  }

  private get rotation(): RotationHost<User> {
    return { settings: this.settings, script: (script, key, args, due) => this.script(script, key, args, due), events: this };
  }

  /** CREATE_TOKEN's reply, and the ids evicted: in one script, or confirmed after a wait (waited-write.ts). */
  private async create(key: string, id: string, userId: string, ttlMs: number | null, recordTail: string): Promise<CreatedToken> {
    this.started = true;
    const store = await this.connection.ready(key);
    const { idleMs, maxTokens, liveFingerprints } = this.settings;
    const create = { id, userId, ttlMs, idleMs: idleMs ?? 0, cap: maxTokens ?? 0, recordTail, live: liveFingerprints };
    return runCreate(store, this.deadline, key, create, waitsOf(this.settings));
  }

  // The routing tag of a well-formed token, or null.
  private tagOf(key: string): string | null {
    const last = this.lastKey;
    this.lastKey = null;
    if (last !== null && last === key) return this.lastTag;
    return tokenTag(key, this.settings.tokenPrefix);
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
    const scopes = options.scopes === undefined ? ['*'] : readTokenScopes(options.scopes);
    const meta = readMeta(options.meta);
    const ttlMs = options.ttl === undefined ? this.settings.ttlMs : positiveSeconds('ttl', options.ttl, true);
    const { secrets, fingerprints, tokenPrefix } = this.settings;

    const key = generateToken(tokenPrefix, routingTag(userId));
    const id = tokenId(key, secrets[0] ?? null, fingerprints[0]);
    const { reply, evicted: dropped } = await this.create(hashKey, id, userId, ttlMs, recordTail(scopes, device, meta));
    if (!Array.isArray(reply) || reply.length < 2) throw badReply('EVALSHA create');
    const now = normaliseInteger(reply[0], 'EVALSHA create');
    const outcome = normaliseInteger(reply[1], 'EVALSHA create');
    if (outcome === -1) {
      throw new MultiTokenError('ERR_MULTITOKEN_HASH_FULL', `the hash of this user's routing tag holds ${HASH_MAX_FIELDS} tokens, its bound; nothing was stored`);
    }
    const first = outcome === 1;
    const evicted = normaliseStrings(dropped, 'EVALSHA create');

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
    markProduced(token);
    if (evicted.length > 0) this.emit('expired', { reason: 'evicted', userId, ids: evicted });
    this.emit('created', { id, userId, device, first });
    return { token, first };
  }

  /** Whether `key` has the shape and checksum of a token of this repository; no I/O. */
  isWellFormed(key: string): boolean {
    const tag = tokenTag(key, this.settings.tokenPrefix);
    this.lastKey = tag === null ? null : key;
    this.lastTag = tag ?? '';
    return tag !== null;
  }

  /**
   * The user and token info of a live token, or null: one HGET (one HMGET with several
   * peppers), checks in process, and a `lastUsedAt` write at most once per `touchInterval`.
   * The whole call shares one deadline. A malformed token costs no I/O.
   * Rejects with {@link MultiTokenStoreError} when Redis cannot answer the read.
   */
  authenticate(key: string): Promise<AuthenticatedToken<User> | null> {
    return new Promise((resolve, reject) => this.verifyInto(key, { verified: resolve, failed: reject }));
  }

  // {@link authenticate}, telling `receiver` instead of a promise: the strategy's way in.
  private verifyInto(key: string, receiver: VerifyReceiver<User>): void {
    const tag = this.tagOf(key);
    if (tag === null) return receiver.verified(null);
    this.started = true;
    this.verifier.verify(key, tag, receiver);
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
    const { tokenPrefix, keyPrefix } = this.settings;
    if (typeof keyOrToken === 'string') {
      const parsed = parseToken(keyOrToken, tokenPrefix);
      if (parsed === null) return false;
      return this.expireOne(tagKey(keyPrefix, parsed.tag), this.idsOfKey(parsed.key), '', 'logout');
    }
    const token = producedToken(keyOrToken, 'expireToken');
    if (!isTokenId(token.id)) return false;
    return this.expireOne(tagKey(keyPrefix, routingTag(token.userId)), [token.id], token.userId, 'logout');
  }

  /**
   * Revokes one token of `user` by its public id, such as from `listTokens`. Returns true when
   * a live token was removed.
   */
  async expireTokenById(user: User, id: string): Promise<boolean> {
    const { userId, key } = this.userOf(user);
    if (!isTokenId(id)) return false;
    return this.expireOne(key, [id], userId, 'revoked');
  }

  private async expireOne(hashKey: string, ids: string[], userId: string, reason: ExpireReason): Promise<boolean> {
    const { idleMs, liveFingerprints } = this.settings;
    const reply = await this.script(EXPIRE_TOKEN, hashKey, [userId, String(idleMs ?? 0), liveFingerprints, ...ids]);
    if (!Array.isArray(reply) || reply.length === 1) throw badReply('EVALSHA expire');
    if (reply.length === 0) return false;
    const id = ids[normaliseInteger(reply[0], 'EVALSHA expire') - 1];
    const owner = normaliseString(reply[1], 'EVALSHA expire');
    if (id === undefined || owner === null) throw badReply('EVALSHA expire');
    // With the rest of its family (rotation): the head, when `id` was rotated away.
    this.emit('expired', { reason, userId: owner, ids: [id, ...normaliseStrings(reply.slice(2), 'EVALSHA expire')] });
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

  /** The id of a token under each listed pepper: one of them names its record. */
  private idsOfKey(key: string): string[] {
    const { secrets, fingerprints } = this.settings;
    return tokenIds(key, secrets, fingerprints);
  }

  private idsOf(current: TokenReference | AuthInfoLike | undefined, userId: string, call: string): string[] {
    if (typeof current === 'string') {
      const parsed = parseToken(current, this.settings.tokenPrefix);
      if (parsed === null) throw new TypeError('current is not a well-formed token');
      // Another user's token lives under another tag: refused here with no I/O, and by the
      // script for the rare user who shares the tag.
      if (parsed.tag !== routingTag(userId)) throw new TypeError('current belongs to another user');
      return this.idsOfKey(parsed.key);
    }
    const token = producedToken(current, call);
    if (token.userId !== userId) throw new TypeError('current belongs to another user');
    return [token.id];
  }

  private async expireUserTokens(userId: string, hashKey: string, keep: string[], reason: ExpireReason): Promise<number> {
    const { idleMs, liveFingerprints } = this.settings;
    const reply = await this.script(EXPIRE_USER_TOKENS, hashKey, [userId, String(idleMs ?? 0), liveFingerprints, ...keep]);
    if (!Array.isArray(reply) && normaliseInteger(reply, 'EVALSHA expire-user') === -1) {
      throw new TypeError('current belongs to another user');
    }
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
    const { idleMs, liveFingerprints } = this.settings;
    // Listing prunes on the way, as every write does ('1'); the admin CLI lists read-only.
    const reply = await this.script(LIST_TOKENS, key, [userId, String(idleMs ?? 0), liveFingerprints, '1']);
    return listedTokens(reply, currentIds); // one entry per device (token-info.ts)
  }

  /**
   * Swaps `current` (a key, or `req.authInfo`) for a new token of the same device, scopes, meta
   * and family; the old one works `grace` more seconds (default 30). Null when it is not live.
   *
   * @example
   * ```ts
   * const rotated = await MultiToken.rotateToken(req.authInfo); // { token } or null
   * ```
   */
  async rotateToken(current: TokenReference | AuthInfoLike | undefined, options: RotateTokenOptions = {}): Promise<{ token: IssuedToken<User> } | null> {
    return rotate(this.rotation, current, options);
  }

  /**
   * Closes the connections this repository opened itself (its own client, and with `replicas`
   * the connection it writes on); a client passed in is left to its owner. Later calls reject
   * with `ERR_MULTITOKEN_STORE`.
   */
  async close(): Promise<void> {
    await this.connection.close(this.deadline);
  }
}
