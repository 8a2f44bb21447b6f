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
   * Runs `task` on the one connection that serves `routeKey`, so that a WAIT there counts the
   * replicas holding the writes `task` made on it.
   */
  pinned<T>(routeKey: string, task: (connection: PinnedConnection) => Promise<T>): Promise<T>;
  /** A command without keys (PING, INFO), sent where `routeKey`'s commands go. */
  command(args: string[], routeKey: string): Promise<unknown>;
  /** Whether the client serves reads from a client-side cache. */
  readonly caching: boolean;
  /** Whether `pinned` can hold the one connection that owns a key (false on node-redis 4 and 5 clusters, and ioredis Clusters). */
  readonly canPin: boolean;
  /** Whether reads may be served by a replica, which may not hold a revocation yet. */
  readonly readsReplicas: boolean;
  /** Closes what the store opened itself (the connection for replicated writes). */
  close(): Promise<void>;
  /** What kind of client this is, for the checks that depend on it. */
  readonly kind: 'client' | 'pool' | 'cluster' | 'sentinel' | 'ioredis' | 'ioredis-cluster';
}

/** One connection, held for a write and the WAIT that follows it. */
export interface PinnedConnection {
  evalSha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(source: string, keys: string[], args: string[]): Promise<unknown>;
  /** `WAIT replicas ms`: how many replicas hold this connection's writes. */
  wait(replicas: number, ms: number): Promise<unknown>;
}

/** Whether `value` has the methods of a node-redis client that the package calls. */
export function isNodeRedisClient(value: unknown): value is RedisClientLike {
  if (value === null || typeof value !== 'object') return false;
  const client = value as Record<string, unknown>;
  return ['hGet', 'hmGet', 'evalSha', 'eval'].every((name) => typeof client[name] === 'function');
}

type Call = (...args: unknown[]) => Promise<unknown>;

// The raw shapes of node-redis clients' command senders, which differ by kind.
interface RawClient {
  hGet: Call;
  hmGet: Call;
  sendCommand: Call;
  evalSha: Call;
  eval: Call;
  execute?: (task: (client: RawClient) => Promise<unknown>) => Promise<unknown>;
  use?: (task: (client: RawClient) => Promise<unknown>) => Promise<unknown>;
  withCommandOptions?: (options: { timeout: number }) => unknown;
  getNodeClientForKey?: (key: string, isReadonly: boolean) => Promise<RawClient>;
  duplicate?: () => RawClient;
  connect?: () => Promise<unknown>;
  destroy?: () => unknown;
  on?: (event: 'error', listener: (err: unknown) => void) => unknown;
  clientSideCache?: unknown;
  masters?: unknown;
}

function withoutTimer(client: RawClient): RawClient {
  if (typeof client.withCommandOptions !== 'function') return client;
  const derived = client.withCommandOptions({ timeout: 0 });
  return isNodeRedisClient(derived) ? (derived as unknown as RawClient) : client;
}

function kindOf(client: RawClient): StoreClient['kind'] {
  if (client.masters !== undefined) return 'cluster';
  if (typeof client.use === 'function') return 'sentinel';
  if (typeof client.execute === 'function') return 'pool';
  return 'client';
}

function pinnedConnection(target: RawClient, wait: (args: string[]) => Promise<unknown>): PinnedConnection {
  return {
    evalSha: (sha1, keys, args) => target.evalSha(sha1, { keys, arguments: args }),
    eval: (source, keys, args) => target.eval(source, { keys, arguments: args }),
    wait: (replicas, ms) => wait(['WAIT', String(replicas), String(ms)]),
  };
}

/** Runs `task` on the connection of the writer client `own` that serves `routeKey`. */
function onWriter<T>(kind: StoreClient['kind'], own: RawClient, routeKey: string, task: (pinned: PinnedConnection) => Promise<T>): Promise<T> {
  if (kind === 'sentinel') {
    return own.use!((lease) => {
      const master = withoutTimer(lease);
      return task(pinnedConnection(master, (args) => master.sendCommand(false, args)));
    }) as Promise<T>;
  }
  if (kind === 'cluster') {
    // node-redis 6 sends a keyless WAIT to every shard (its command policies), so the write
    // and its WAIT go to the slot owner's own client.
    return own.getNodeClientForKey!(routeKey, false).then((owner) => {
      const node = withoutTimer(owner);
      return task(pinnedConnection(node, (args) => node.sendCommand(args)));
    });
  }
  const single = withoutTimer(own);
  return task(pinnedConnection(single, (args) => single.sendCommand(args)));
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
  // Replicated writes run on a connection of their own, opened on first need: a WAIT holds
  // its connection until replicas answer, and verifications must not queue behind it.
  let writer: Promise<RawClient> | undefined;
  const openWriter = (): Promise<RawClient> => {
    writer ??= (async () => {
      const copy = raw.duplicate!();
      copy.on?.('error', () => {});
      await copy.connect!();
      return copy;
    })().catch((err: unknown) => {
      writer = undefined;
      throw err;
    });
    return writer;
  };
  return {
    kind,
    caching,
    canPin: kind !== 'cluster' || typeof raw.getNodeClientForKey === 'function',
    readsReplicas: false,
    async close() {
      const opened = writer;
      writer = undefined;
      if (opened === undefined) return;
      try {
        (await opened).destroy?.();
      } catch {
        // It never opened.
      }
    },
    hGet: masterReads ? (key, field) => send(view, ['HGET', key, field], key) : (key, field) => view.hGet(key, field),
    hmGet: masterReads ? (key, fields) => send(view, ['HMGET', key, ...fields], key) : (key, fields) => view.hmGet(key, fields),
    evalSha: (sha1, keys, args) => view.evalSha(sha1, { keys, arguments: args }),
    eval: (source, keys, args) => view.eval(source, { keys, arguments: args }),
    command: (args, routeKey) => send(view, args, routeKey),
    pinned<T>(routeKey: string, task: (pinned: PinnedConnection) => Promise<T>): Promise<T> {
      // A pool lends one of its clients, and a Sentinel client its master connection; a
      // cluster sends every command of one key to the same node's connection.
      if (kind === 'pool') {
        return raw.execute!((one) => {
          const lent = withoutTimer(one);
          return task(pinnedConnection(lent, (args) => lent.sendCommand(args)));
        }) as Promise<T>;
      }
      return openWriter().then((own) => onWriter(kind, own, routeKey, task));
    },
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

function ioRedisConnection(client: IoRedisClientLike): PinnedConnection {
  return {
    evalSha: (sha1, keys, args) => client.evalsha(sha1, keys.length, ...keys, ...args),
    eval: (source, keys, args) => client.eval(source, keys.length, ...keys, ...args),
    wait: (replicas, ms) => client.call('WAIT', String(replicas), String(ms)),
  };
}

/**
 * An ioredis client as a StoreClient. ioredis has no per-command timer unless the user set
 * `commandTimeout`, and no server-assisted client-side cache.
 */
export function ioRedisStore(client: IoRedisClientLike): StoreClient {
  const cluster = client.isCluster;
  const connection = ioRedisConnection(client);
  let writer: IoRedisClientLike | undefined;
  const duplicate = (client as unknown as { duplicate?: () => IoRedisClientLike }).duplicate;
  return {
    kind: cluster ? 'ioredis-cluster' : 'ioredis',
    caching: false,
    // A keyless WAIT on a Cluster would go to any node, not to the one that took the write.
    canPin: !cluster,
    readsReplicas: ioRedisReadsReplicas(client),
    close() {
      (writer as unknown as { disconnect?: () => void } | undefined)?.disconnect?.();
      writer = undefined;
      return Promise.resolve();
    },
    hGet: (key, field) => client.hget(key, field),
    hmGet: (key, fields) => client.hmget(key, ...fields),
    evalSha: (sha1, keys, args) => connection.evalSha(sha1, keys, args),
    eval: (source, keys, args) => connection.eval(source, keys, args),
    command: ([command, ...args]) => client.call(command!, ...args),
    // A connection of its own to the master, so verifications never queue behind a WAIT.
    pinned: (_routeKey, task) => {
      writer ??= duplicate === undefined ? client : duplicate.call(client);
      return task(ioRedisConnection(writer));
    },
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
  if (needs.replicas > 0 && !store.canPin) {
    throw new TypeError('replicas needs the connection that owns each key, which this cluster client cannot name (node-redis 4 and 5 clusters, ioredis Cluster); use a node-redis 6 cluster, or replicas: 0');
  }
}
