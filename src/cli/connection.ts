import { isNodeRedisClient, nodeRedisStore, type RedisClientLike, type StoreClient } from '../client.js';
import { loadRedis, redactUrl, teardown, type Disposable, type RedisModule, type SocketOptions } from '../connection.js';
import { MultiTokenStoreError } from '../errors.js';
import { CallDeadline } from '../deadline.js';
import { normaliseString } from '../replies.js';

// The CLI's own connection to Redis: a node-redis client (from the `redis` peer) or cluster,
// opened with no reconnects and a deadline on every step, so an unreachable or frozen server
// fails the command in time instead of hanging it.

/** One Redis server the CLI can send raw commands to: the standalone server, or one master. */
export interface ServerConnection {
  /** Sends one command to this server, within the deadline. */
  send(args: string[]): Promise<unknown>;
}

/** An open connection, standalone or cluster. */
export interface AdminConnection {
  /** Whether it is a cluster. */
  readonly cluster: boolean;
  /** Why the CLI could not tell a cluster from a single server (everything it asks was refused), if so. */
  readonly undetermined?: string;
  /** The node-redis client, for a `MultiTokenRepository`. */
  readonly client: RedisClientLike;
  /** The client as the package's scripts run on it. */
  readonly store: StoreClient;
  /** The deadline keeper of every command. */
  readonly deadline: CallDeadline;
  /** The standalone server, or every master of the cluster. */
  servers(): Promise<ServerConnection[]>;
  /** Sends a command about `key` to the server that holds it, within the deadline. */
  sendForKey(key: string, args: string[], readonly: boolean): Promise<unknown>;
  /** Closes every connection at once; nothing is in flight by then. */
  close(): void;
}

// The parts of node-redis 4.6 to 6 the CLI calls, typed by their shape.
interface NodeClient extends RedisClientLike, Disposable {
  on(event: 'error', listener: (err: unknown) => void): unknown;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
}
// A master as node-redis describes it, only ever handed back to nodeClient().
type ClusterNode = object;
interface ClusterClient extends RedisClientLike, Disposable {
  on(event: 'error', listener: (err: unknown) => void): unknown;
  connect(): Promise<unknown>;
  readonly masters: readonly ClusterNode[];
  nodeClient(node: ClusterNode): NodeClient | Promise<NodeClient>;
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>;
}
// The CLI's sockets always have a connect timeout: its messages name it.
type CliSocket = SocketOptions & { connectTimeout: number };

/** What to open. */
export interface ConnectOptions {
  url: string;
  /** Treat `url` as a cluster seed without asking the server. */
  cluster: boolean;
  /** Deadline in ms for connecting and for each command. */
  timeoutMs: number;
  /** The key prefix, for probe keys an ACL allows. Default `'rmt:'`. */
  prefix?: string;
}

// TLS errors that say the server's certificate was not accepted (Node's and OpenSSL's codes).
const CERTIFICATE_ERROR = /^(CERT_|ERR_TLS_CERT|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_SSL_)/;

/** The certificate error among what a connection reported, if any. */
function certificateError(errors: readonly unknown[]): (Error & { code: string }) | undefined {
  for (const err of errors) {
    const code = (err as { code?: unknown } | null)?.code;
    if (err instanceof Error && typeof code === 'string' && CERTIFICATE_ERROR.test(code)) return err as Error & { code: string };
  }
  return undefined;
}

function unreachable(what: string, url: string, timeoutMs: number, err: unknown, reported: readonly unknown[] = []): MultiTokenStoreError {
  const rejected = certificateError([err, (err as { cause?: unknown } | null)?.cause, ...reported]);
  if (rejected !== undefined) {
    return new MultiTokenStoreError('ERR_MULTITOKEN_STORE', `the TLS certificate of ${what} at ${redactUrl(url)} was rejected: ${rejected.code} (${rejected.message})`, { cause: rejected });
  }
  if (err instanceof MultiTokenStoreError && err.code === 'ERR_MULTITOKEN_TIMEOUT') {
    return new MultiTokenStoreError('ERR_MULTITOKEN_TIMEOUT', `${what} at ${redactUrl(url)} did not answer within ${timeoutMs} ms`);
  }
  const cause = err instanceof MultiTokenStoreError ? err.cause : err;
  return new MultiTokenStoreError('ERR_MULTITOKEN_STORE', `cannot connect to ${what} at ${redactUrl(url)}`, { cause });
}

/**
 * Opens a connection for the CLI. Without `cluster`, it connects to `url` and asks
 * `INFO cluster`; a node with cluster mode on is reopened as a cluster seed, so SCAN covers
 * every master. Fails with a {@link MultiTokenStoreError} within the deadline.
 */
export async function openConnection(options: ConnectOptions): Promise<AdminConnection> {
  const { url, timeoutMs } = options;
  const redis = await loadRedis();
  const deadline = new CallDeadline(timeoutMs);
  // A socket silent for longer than the deadline has failed its command already (the deadline
  // says so first, with a clearer message); closing it also ends a cluster's discovery
  // connection, which no teardown reaches (node-redis 5, 6), so the process can exit.
  const socket: CliSocket = { connectTimeout: timeoutMs, socketTimeout: timeoutMs + 500, reconnectStrategy: false };
  if (options.cluster) return openCluster(redis, url, socket, deadline);

  const client = redis.createClient({ url, socket }) as NodeClient;
  // With no reconnects, a lost connection fails the commands in flight, which report it; an
  // unheard 'error' event would end the process instead. What it reports is kept, for a
  // certificate error that would otherwise show only as a timeout.
  const reported: unknown[] = [];
  client.on('error', (err) => reported.push(err));
  try {
    await deadline.guard(() => client.connect(), 'CONNECT');
  } catch (err) {
    teardown(client);
    throw unreachable('Redis', url, socket.connectTimeout, err, reported);
  }
  const send = (args: string[]): Promise<unknown> => deadline.guard(() => client.sendCommand(args), args[0]!);
  let cluster: boolean | undefined;
  try {
    cluster = await detectCluster(send, options.prefix ?? 'rmt:');
  } catch (err) {
    teardown(client);
    throw unreachable('Redis', url, socket.connectTimeout, err);
  }
  if (cluster === true) {
    teardown(client);
    return openCluster(redis, url, socket, deadline);
  }
  if (!isNodeRedisClient(client)) {
    teardown(client);
    throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'the installed redis package is not node-redis 4.6 or later');
  }
  const server: ServerConnection = { send };
  return {
    cluster: false,
    ...(cluster === undefined ? { undetermined: `could not tell whether ${redactUrl(url)} is a cluster (INFO, CLUSTER and EXISTS were refused); pass --cluster if it is` } : {}),
    client,
    store: nodeRedisStore(client),
    deadline,
    servers: () => Promise.resolve([server]),
    sendForKey: (_key, args) => send(args),
    close: () => teardown(client),
  };
}

function refused(err: unknown): boolean {
  // A timeout means the server is not answering: that fails the command, not the probe.
  return !(err instanceof MultiTokenStoreError && err.code === 'ERR_MULTITOKEN_TIMEOUT');
}

/**
 * Whether the server is a cluster node: from `INFO cluster`; else from `CLUSTER MYID`; else from
 * a MOVED reply to EXISTS on probe keys under `prefix` spread over many slots (a single master
 * that holds every slot answers none, and is walked like a single server, rightly). Undefined
 * when all of it is refused. Rejects when the server does not answer.
 */
async function detectCluster(send: (args: string[]) => Promise<unknown>, prefix: string): Promise<boolean | undefined> {
  try {
    const info = normaliseString(await send(['INFO', 'cluster']), 'INFO');
    if (info !== null && /^cluster_enabled:[01]\s*$/m.test(info)) return /^cluster_enabled:1\s*$/m.test(info);
  } catch (err) {
    if (!refused(err)) throw err;
  }
  try {
    await send(['CLUSTER', 'MYID']);
    return true;
  } catch (err) {
    if (!refused(err)) throw err;
    if (/cluster support disabled/i.test(String((err as { cause?: unknown }).cause))) return false;
  }
  let answered = false;
  for (let i = 0; i < 16; i++) {
    try {
      await send(['EXISTS', `${prefix}{cluster-probe-${i}}`]);
      answered = true;
    } catch (err) {
      if (!refused(err)) throw err;
      if (/^MOVED /.test((err as { cause?: { message?: string } }).cause?.message ?? '')) return true;
    }
  }
  return answered ? false : undefined;
}

async function openCluster(redis: RedisModule, url: string, socket: CliSocket, deadline: CallDeadline): Promise<AdminConnection> {
  const parsed = new URL(url);
  const defaults: { username?: string; password?: string; socket: SocketOptions } = {
    socket: parsed.protocol === 'rediss:' ? { ...socket, tls: true } : socket,
  };
  // Credentials in the seed URL are every node's: the nodes found later get them too.
  if (parsed.username !== '') defaults.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') defaults.password = decodeURIComponent(parsed.password);
  const cluster = redis.createCluster({ rootNodes: [{ url }], defaults, useReplicas: false }) as ClusterClient;
  const reported: unknown[] = [];
  cluster.on('error', (err) => reported.push(err));
  try {
    await deadline.guard(() => cluster.connect(), 'CONNECT');
  } catch (err) {
    teardown(cluster);
    throw unreachable('Redis Cluster', url, socket.connectTimeout, err, reported);
  }
  if (!Array.isArray(cluster.masters) || typeof cluster.nodeClient !== 'function' || !isNodeRedisClient(cluster)) {
    teardown(cluster);
    throw new MultiTokenStoreError('ERR_MULTITOKEN_STORE', 'the installed redis package has no cluster.masters and nodeClient(): update node-redis');
  }
  return {
    cluster: true,
    client: cluster,
    store: nodeRedisStore(cluster),
    deadline,
    async servers() {
      const servers: ServerConnection[] = [];
      for (const master of cluster.masters) {
        const client = await deadline.guard(() => Promise.resolve(cluster.nodeClient(master)), 'CONNECT');
        servers.push({ send: (args) => deadline.guard(() => client.sendCommand(args), args[0]!) });
      }
      return servers;
    },
    sendForKey: (key, args, readonly) => deadline.guard(() => cluster.sendCommand(key, readonly, args), args[0]!),
    close: () => teardown(cluster),
  };
}
