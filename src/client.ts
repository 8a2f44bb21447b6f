import { clusterWriter, databaseOf, ioRedisWriter, nodeRedisWriter, withoutTimer, type RawClient, type WriteTask, type Writer } from './writer.js';

// The Redis clients the package works with, behind one small interface. The repository speaks
// only to a StoreClient; this module turns what the user passed into one.

/** The arguments of EVAL and EVALSHA, as node-redis takes them. */
export interface RedisScriptOptions {
  keys: string[];
  arguments: string[];
}

/**
 * The part of a node-redis client the package uses. A standalone client, a cluster, a
 * sentinel client or a pool from node-redis 4.6, 5 or 6 all fit, whatever their RESP version
 * or type mapping.
 */
export interface RedisClientLike {
  /** HGET: one field of a hash. */
  hGet(key: string, field: string): Promise<unknown>;
  /** HMGET: several fields of a hash. */
  hmGet(key: string, fields: string[]): Promise<unknown>;
  /** EVALSHA: runs a loaded script by its SHA1. */
  evalSha(sha1: string, options: RedisScriptOptions): Promise<unknown>;
  /** EVAL: runs a script from its source, after a NOSCRIPT. */
  eval(script: string, options: RedisScriptOptions): Promise<unknown>;
}

/**
 * The part of an ioredis client the package uses: a `Redis` (standalone or Sentinel) or a
 * `Cluster`, from ioredis 5 or 6. Its own `keyPrefix` applies to every key the package uses.
 */
export interface IoRedisClientLike {
  /** HGET: one field of a hash. */
  hget(key: string, field: string): Promise<unknown>;
  /** HMGET: several fields of a hash. */
  hmget(key: string, ...fields: string[]): Promise<unknown>;
  /** EVALSHA: runs a loaded script by its SHA1. */
  evalsha(sha1: string, numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** EVAL: runs a script from its source, after a NOSCRIPT. */
  eval(script: string, numberOfKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /** Any command, such as WAIT, INFO or PING. */
  call(command: string, ...args: string[]): Promise<unknown>;
  /** True for a `Cluster`. */
  readonly isCluster: boolean;
}

/** The commands the repository sends, whatever the client underneath. */
export interface StoreClient {
  hGet(key: string, field: string): Promise<unknown>;
  hmGet(key: string, fields: string[]): Promise<unknown>;
  evalSha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(source: string, keys: string[], args: string[]): Promise<unknown>;
  /**
   * Runs `task` on the store's own write connection that serves `routeKey`, so that a WAIT or
   * WAITAOF there counts the writes `task` made on it; no verification ever waits behind it.
   */
  pinned<T>(routeKey: string, task: WriteTask<T>): Promise<T>;
  /** A command without keys (PING, INFO), sent where `routeKey`'s commands go. */
  command(args: string[], routeKey: string): Promise<unknown>;
  /** Whether the client serves reads from a client-side cache. */
  readonly caching: boolean;
  /** Whether `pinned` can hold the one connection that owns a key (false on node-redis 4 and 5 clusters, and ioredis Clusters). */
  readonly canPin: boolean;
  /** Whether reads may be served by a replica, which may not hold a revocation yet. */
  readonly readsReplicas: boolean;
  /** Tears down what the store opened itself (the write connection), at once. */
  close(): void;
  /** What kind of client this is, for the checks that depend on it. */
  readonly kind: 'client' | 'pool' | 'cluster' | 'sentinel' | 'ioredis' | 'ioredis-cluster';
}

export type { PinnedConnection } from './writer.js';

/** Whether `value` has the methods of a node-redis client that the package calls. */
export function isNodeRedisClient(value: unknown): value is RedisClientLike {
  if (value === null || typeof value !== 'object') return false;
  const client = value as Record<string, unknown>;
  return ['hGet', 'hmGet', 'evalSha', 'eval'].every((name) => typeof client[name] === 'function');
}

function kindOf(client: RawClient): 'client' | 'pool' | 'cluster' | 'sentinel' {
  if (client.masters !== undefined) return 'cluster';
  if (typeof client.use === 'function') return 'sentinel';
  if (typeof client.execute === 'function') return 'pool';
  return 'client';
}

/**
 * A node-redis client seen through a view without its per-command timer. node-redis 5 and 6
 * arm a timer on every command (5 s by default, or the client's own `commandOptions.timeout`);
 * the repository has its own deadline, which governs instead, and the timer would halve
 * throughput. The view is derived once; the client the user holds is left as it is.
 * node-redis 4 has no such timer and no such view.
 */
export function nodeRedisStore(client: RedisClientLike): StoreClient {
  const raw = client as unknown as RawClient;
  const view = withoutTimer(raw);
  const kind = kindOf(raw);
  const send = (target: RawClient, args: string[], routeKey: string): Promise<unknown> => {
    if (kind === 'cluster') return target.sendCommand(routeKey, false, args);
    if (kind === 'sentinel') return target.sendCommand(false, args);
    return target.sendCommand(args);
  };
  const caching = raw.clientSideCache !== undefined && raw.clientSideCache !== null;
  // A cluster with `useReplicas` or a Sentinel client with replicas in its pool would send
  // read-only commands to replicas, which may not hold a revocation yet: reads go to the
  // master, as writes do. (A caching Sentinel client keeps its cacheable reads; see README.)
  const masterReads = kind === 'cluster' || (kind === 'sentinel' && !caching);
  // Writes that wait run on a connection of their own: a WAIT holds its connection until
  // replicas answer, and verifications must not queue behind it.
  const writer: Writer =
    kind === 'cluster'
      ? clusterWriter(raw, (routeKey) => void send(view, ['EXISTS', routeKey], routeKey).catch(() => {}))
      : nodeRedisWriter(raw, kind, () => send(view, ['CLIENT', 'INFO'], '').then(databaseOf, () => undefined));
  return {
    kind,
    caching,
    canPin: kind !== 'cluster' || typeof raw.getNodeClientForKey === 'function',
    readsReplicas: false,
    close: () => writer.close(),
    hGet: masterReads ? (key, field) => send(view, ['HGET', key, field], key) : (key, field) => view.hGet(key, field),
    hmGet: masterReads ? (key, fields) => send(view, ['HMGET', key, ...fields], key) : (key, fields) => view.hmGet(key, fields),
    evalSha: (sha1, keys, args) => view.evalSha(sha1, { keys, arguments: args }),
    eval: (source, keys, args) => view.eval(source, { keys, arguments: args }),
    command: (args, routeKey) => send(view, args, routeKey),
    pinned: (routeKey, task) => writer.run(routeKey, task),
  };
}

/** Whether `value` has the methods of an ioredis client that the package calls. */
export function isIoRedisClient(value: unknown): value is IoRedisClientLike {
  if (value === null || typeof value !== 'object') return false;
  const client = value as Record<string, unknown>;
  return ['hget', 'hmget', 'evalsha', 'eval', 'call'].every((name) => typeof client[name] === 'function') && typeof client.isCluster === 'boolean';
}

// ioredis keeps where it reads in its options: a Cluster's `scaleReads`, a Sentinel client's `role`.
function ioRedisReadsReplicas(client: IoRedisClientLike): boolean {
  const options = (client as { options?: { scaleReads?: unknown; role?: unknown } }).options;
  if (options === undefined) return false;
  if (client.isCluster) return options.scaleReads !== undefined && options.scaleReads !== 'master';
  return options.role === 'slave';
}

/**
 * An ioredis client as a StoreClient. ioredis has no per-command timer unless the user set
 * `commandTimeout`, and no server-assisted client-side cache.
 */
export function ioRedisStore(client: IoRedisClientLike): StoreClient {
  const cluster = client.isCluster;
  // A connection of its own to the master, so verifications never queue behind a WAIT.
  const writer = ioRedisWriter(client);
  return {
    kind: cluster ? 'ioredis-cluster' : 'ioredis',
    caching: false,
    // A keyless WAIT on a Cluster would go to any node, not to the one that took the write.
    canPin: !cluster,
    readsReplicas: ioRedisReadsReplicas(client),
    close: () => writer.close(),
    hGet: (key, field) => client.hget(key, field),
    hmGet: (key, fields) => client.hmget(key, ...fields),
    evalSha: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    command: ([command, ...args]) => client.call(command!, ...args),
    pinned: (routeKey, task) => writer.run(routeKey, task),
  };
}

/** A node-redis or ioredis client as a StoreClient. */
export function storeOf(client: RedisClientLike | IoRedisClientLike): StoreClient {
  return isIoRedisClient(client) ? ioRedisStore(client) : nodeRedisStore(client);
}

/** What the repository's options ask of its client. */
export interface StoreNeeds {
  /** The `replicas` option: replicated writes need the connection that owns each key. */
  replicas: number;
  /** The `durable` option: its WAITAOF, too. */
  durable: boolean;
  /** The `cacheFence` option: a bound on a cached answer needs one caching connection to fence. */
  cacheFence: number | null;
}

/**
 * The one place that judges a client against the repository's options: a TypeError, naming
 * `redis` or the option, for a client that could accept a revoked token or cannot do what the
 * options ask.
 */
export function checkStore(store: StoreClient, needs: StoreNeeds): void {
  if (store.readsReplicas) {
    throw new TypeError("redis: an ioredis client that reads from replicas (scaleReads other than 'master', or role 'slave') may accept a revoked token; read from the master");
  }
  if (store.caching && needs.cacheFence !== null && store.kind !== 'client') {
    throw new TypeError(
      'redis: only a single client-side-caching client can bound the revocation window (a pool, cluster or Sentinel client reads on connections one PING cannot fence); cache on a single client, or set cacheFence: null',
    );
  }
  if ((needs.replicas > 0 || needs.durable) && !store.canPin) {
    const option = needs.replicas > 0 ? 'replicas' : 'durable';
    throw new TypeError(
      `${option} needs the connection that owns each key, which this cluster client cannot name (node-redis 4 and 5 clusters, ioredis Cluster); use a node-redis 6 cluster, or ${option === 'replicas' ? 'replicas: 0' : 'durable: false'}`,
    );
  }
}
