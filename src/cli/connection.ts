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
}

function unreachable(what: string, url: string, timeoutMs: number, err: unknown): MultiTokenStoreError {
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
  // unheard 'error' event would end the process instead.
  client.on('error', () => {});
  try {
    await deadline.guard(() => client.connect(), 'CONNECT');
  } catch (err) {
    teardown(client);
    throw unreachable('Redis', url, socket.connectTimeout, err);
  }
  const send = (args: string[]): Promise<unknown> => deadline.guard(() => client.sendCommand(args), args[0]!);
  let info: string | null = null;
  try {
    info = normaliseString(await send(['INFO', 'cluster']), 'INFO');
  } catch (err) {
    // A server that refuses INFO (an ACL, a proxy) is taken as standalone; one that does not
    // answer at all fails the command here.
    if (err instanceof MultiTokenStoreError && err.code === 'ERR_MULTITOKEN_TIMEOUT') {
      teardown(client);
      throw unreachable('Redis', url, socket.connectTimeout, err);
    }
  }
  if (info !== null && /^cluster_enabled:1\s*$/m.test(info)) {
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
    client,
    store: nodeRedisStore(client),
    deadline,
    servers: () => Promise.resolve([server]),
    sendForKey: (_key, args) => send(args),
    close: () => teardown(client),
  };
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
  cluster.on('error', () => {});
  try {
    await deadline.guard(() => cluster.connect(), 'CONNECT');
  } catch (err) {
    teardown(cluster);
    throw unreachable('Redis Cluster', url, socket.connectTimeout, err);
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
