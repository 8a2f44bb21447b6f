import { checkStore, nodeRedisStore, storeOf, type IoRedisClientLike, type RedisClientLike, type StoreClient } from './client.js';
import type { CallDeadline, CallServer } from './deadline.js';
import { MultiTokenStoreError } from './errors.js';
import { CacheFence } from './fence.js';
import { DEFAULT_REDIS_URL, isRedisUrl } from './options.js';
import { normaliseString } from './replies.js';
import { teardown, type Disposable } from './writer.js';

// Connections the package opens itself, from a URL, with the `redis` peer: the repository's
// (reconnecting quickly, commands queued until it is up) and the admin CLI's (no reconnects).
// Both load the peer, and tear a connection down the same way. The repository also checks,
// once per process, that the server will not evict a user's tokens under memory pressure.

/** Socket options the package passes to node-redis. */
export interface SocketOptions {
  connectTimeout?: number;
  socketTimeout?: number;
  reconnectStrategy: false | ((retries: number) => number);
  tls?: true;
}

/** The part of the `redis` peer that opens connections. */
export interface RedisModule {
  createClient(options: { url: string; socket: SocketOptions }): unknown;
  createCluster(options: {
    rootNodes: { url: string }[];
    defaults: { username?: string; password?: string; socket: SocketOptions };
    useReplicas: false;
  }): unknown;
}

export { teardown, type Disposable } from './writer.js';

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'an unreadable URL';
  }
}

/** A Redis URL as messages name it: host, port and database (0 when the URL names none), no password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.port === '') parsed.port = '6379';
    if (parsed.pathname === '' || parsed.pathname === '/') parsed.pathname = '/0';
    return redactUrl(parsed.toString());
  } catch {
    return 'an unreadable URL';
  }
}

interface ClientOptionsSeen {
  url?: unknown;
  socket?: { host?: unknown; port?: unknown; path?: unknown };
  database?: unknown;
  rootNodes?: { url?: unknown }[];
  name?: unknown;
  host?: unknown;
  port?: unknown;
  db?: unknown;
}

// A host, port or database number from a client's options, or the default.
function part(value: unknown, fallback: string | number): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : String(fallback);
}

/** Which server a client the user passed talks to, as its options say, without a password. */
export function describeClient(client: object): string {
  const seen = client as { options?: ClientOptionsSeen; startupNodes?: { host?: unknown; port?: unknown }[]; isCluster?: unknown };
  const options = seen.options ?? {};
  const node = Array.isArray(seen.startupNodes) ? seen.startupNodes[0] : undefined;
  const root = options.rootNodes?.[0]?.url;
  const seed = typeof root === 'string' ? root : node === undefined ? undefined : `redis://${part(node.host, 'localhost')}:${part(node.port, 6379)}`;
  if (seed !== undefined) return `the Redis Cluster seeded at ${describeUrl(seed).replace(/\/0$/, '')}`;
  if (typeof options.url === 'string') return describeUrl(options.url);
  // ioredis keeps host, port and db at the top of its options; node-redis under `socket`.
  const host = options.socket?.host ?? options.host;
  const port = options.socket?.port ?? options.port;
  if (typeof options.socket?.path === 'string') return `the Redis socket ${options.socket.path}`;
  if (host === undefined && port === undefined) return 'the Redis server of the client passed in';
  return `redis://${part(host, 'localhost')}:${part(port, 6379)}/${part(options.database ?? options.db, 0)}`;
}

/** Loads the `redis` peer; a store error that says how to install it when it is missing. */
export async function loadRedis(): Promise<RedisModule> {
  try {
    return await import('redis');
  } catch (err) {
    throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'the redis package is not installed: npm install redis', { cause: err });
  }
}


interface OwnedClient extends Disposable {
  readonly isReady?: boolean;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
}

/** Backoff of a connection the repository opens itself: quick, capped near half a second. */
function reconnectDelay(retries: number): number {
  return Math.min(25 * 2 ** retries, 400) + Math.floor(Math.random() * 100);
}

/** A node-redis client the repository opened itself from a URL. */
class OwnedConnection {
  /** The client as the repository's calls run on it. */
  readonly store: StoreClient;
  /** The last error the client reported since it was last up, if any. */
  lastError: unknown;
  private readonly client: OwnedClient;
  private closed = false;

  /** Opens a client to `url`; commands queue until it is up, each still bound by its deadline. */
  constructor(redis: RedisModule, url: string) {
    this.client = redis.createClient({ url, socket: { reconnectStrategy: reconnectDelay } }) as OwnedClient;
    // node-redis reports every failed reconnect as an 'error' event, and an unheard 'error'
    // would end the process. The calls that fail report it instead, as their cause.
    this.client.on('error', (err) => {
      this.lastError = err;
    });
    this.client.on('ready', () => {
      this.lastError = undefined;
    });
    // node-redis's destroy() during a connect leaves the socket that connect then opens: a
    // client closed while connecting is torn down again once it is up.
    this.client.connect().then(
      () => {
        if (this.closed) teardown(this.client);
      },
      () => {},
    );
    this.store = nodeRedisStore(this.client as unknown as RedisClientLike);
  }

  /**
   * Closes the client: politely when it is up, letting calls in flight finish within the
   * deadline; one that is down or still connecting, or that cannot close in time, is torn down.
   */
  async close(deadline: CallDeadline): Promise<void> {
    this.closed = true;
    const client = this.client;
    if (client.isReady === true) {
      try {
        if (client.close !== undefined) await deadline.guard(() => client.close!(), 'CLOSE');
        else if (client.quit !== undefined) await deadline.guard(() => client.quit!(), 'QUIT');
        return;
      } catch {
        // fall through to the teardown
      }
    }
    teardown(client);
  }
}

// Eviction policies already warned about in this process: one warning each.
const warnedPolicies = new Set<string>();

/** Warns once per process when Redis may evict keys, which would log users out. */
export async function checkEvictionPolicy(store: StoreClient, routeKey: string): Promise<void> {
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

/** The options that say where a repository's Redis is, and what is asked of it. */
export interface ConnectionSettings {
  redis: RedisClientLike | IoRedisClientLike | string | undefined;
  replicas: number;
  durable: boolean;
  cacheFence: number | null;
}

/**
 * A repository's way to its Redis: the client it was given, judged at once, or one it opens
 * itself from a URL on first use (and closes in `close()`); the cache fence of a caching
 * client; and, on the first call, the eviction-policy check.
 */
export class StoreConnection implements CallServer {
  /** The fence of a client-side-caching client, when a bound is set. */
  fence: CacheFence | undefined;
  private readonly settings: ConnectionSettings;
  private store: StoreClient | undefined;
  private owned: OwnedConnection | undefined;
  private opening: Promise<StoreClient> | undefined;
  private closed = false;
  private policyChecked = false;

  /** Judges a given client at once: a TypeError naming the option it fails. */
  constructor(settings: ConnectionSettings) {
    this.settings = settings;
    if (typeof settings.redis === 'object') this.attach(storeOf(settings.redis));
  }

  /** The server, for error messages: the URL opened (without its password), or the client's. */
  where(): string {
    const given = this.settings.redis;
    if (typeof given === 'object') return describeClient(given);
    return describeUrl(typeof given === 'string' ? given : process.env.REDIS_URL ?? DEFAULT_REDIS_URL);
  }

  /** The last error of the connection the repository opened itself, while it is down. */
  lastError(): unknown {
    return this.owned?.lastError;
  }

  /**
   * The store, at once when it is open (a verification then skips a promise), else once it
   * is; rejects after `close()`. The first call checks the eviction policy, through `routeKey`.
   */
  ready(routeKey: string): StoreClient | Promise<StoreClient> {
    if (this.closed) return Promise.reject(new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed'));
    const store = this.store;
    if (store === undefined) {
      this.opening ??= this.open();
      return this.opening.then(() => this.ready(routeKey));
    }
    if (!this.policyChecked) {
      this.policyChecked = true;
      void checkEvictionPolicy(store, routeKey);
    }
    return store;
  }

  /**
   * Closes what the repository opened itself (its own client, and with `replicas` the
   * connection it writes on); a client passed in is left to its owner.
   */
  async close(deadline: CallDeadline): Promise<void> {
    this.closed = true;
    this.store?.close();
    const owned = this.owned;
    this.owned = undefined;
    await owned?.close(deadline);
  }

  private attach(store: StoreClient): void {
    const { cacheFence, replicas, durable } = this.settings;
    checkStore(store, { replicas, durable, cacheFence });
    if (store.caching && cacheFence !== null) this.fence = new CacheFence(cacheFence, () => store.command(['PING'], ''));
    this.store = store;
  }

  private async open(): Promise<StoreClient> {
    const given = this.settings.redis;
    const url = typeof given === 'string' ? given : process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
    if (!isRedisUrl(url)) throw new TypeError(`${typeof given === 'string' ? 'redis' : 'REDIS_URL'} must be a redis:// or rediss:// URL`);
    const redis = await loadRedis();
    if (this.closed) throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'The token repository is closed');
    this.owned = new OwnedConnection(redis, url);
    this.attach(this.owned.store);
    return this.owned.store;
  }
}
