// The connection writes that wait (`WAIT`, `WAITAOF`) run on: one of the repository's own,
// never one a verification needs. It is opened on first need from the user's client (its
// options, auth and TLS), never after `close()`, and torn down by `close()` without waiting.
// On a node-redis cluster there is one per master, opened from that master's own client, and
// a write that meets MOVED or ASK follows it once to the node the reply names. Before each
// write it takes the database the user's client is on now, so a run-time SELECT is followed.

/** One connection, held for a write and the wait that follows it. */
export interface PinnedConnection {
  evalSha(sha1: string, keys: string[], args: string[]): Promise<unknown>;
  eval(source: string, keys: string[], args: string[]): Promise<unknown>;
  /** A keyless command on this same connection, such as WAIT or WAITAOF. */
  command(args: string[]): Promise<unknown>;
}

/** Runs a task on the write connection that serves a key; a task may run twice after a redirect. */
export type WriteTask<T> = (connection: PinnedConnection) => Promise<T>;

/** The write connection of one store. */
export interface Writer {
  run<T>(routeKey: string, task: WriteTask<T>): Promise<T>;
  /** Tears every write connection down at once; later runs reject. */
  close(): void;
}

/** A connection that can be torn down at once: node-redis's `destroy()`, or an older `disconnect()`. */
export interface Disposable {
  destroy?(): void;
  disconnect?(): unknown;
}

/** Tears a connection down at once, without waiting for anything in flight. */
export function teardown(client: Disposable): void {
  try {
    if (client.destroy !== undefined) client.destroy();
    else (client.disconnect?.() as Promise<unknown> | undefined)?.catch?.(() => {});
  } catch {
    // Already torn down.
  }
}

type Call = (...args: unknown[]) => Promise<unknown>;

/** The raw shape of a node-redis client, pool, cluster or Sentinel client, as the package calls it. */
export interface RawClient extends Disposable {
  hGet: Call;
  hmGet: Call;
  sendCommand: Call;
  evalSha: Call;
  eval: Call;
  execute?: (task: (client: RawClient) => Promise<unknown>) => Promise<unknown>;
  use?: (task: (client: RawClient) => Promise<unknown>) => Promise<unknown>;
  withCommandOptions?: (options: { timeout: number }) => unknown;
  getNodeClientForKey?: (key: string, isReadonly: boolean) => Promise<RawClient>;
  duplicate?: (overrides?: Record<string, unknown>) => RawClient;
  connect?: () => Promise<unknown>;
  on?: (event: 'error', listener: (err: unknown) => void) => unknown;
  options?: { socket?: Record<string, unknown>; database?: number };
  clientSideCache?: unknown;
  masters?: unknown;
}

/** A client's view without node-redis 5 and 6's per-command timer; the repository's deadline governs. */
export function withoutTimer(client: RawClient): RawClient {
  if (typeof client.withCommandOptions !== 'function') return client;
  const derived = client.withCommandOptions({ timeout: 0 }) as Partial<RawClient> | null;
  return derived !== null && typeof derived?.sendCommand === 'function' && typeof derived.evalSha === 'function' ? (derived as RawClient) : client;
}

/** The error of a run on a closed repository. */
export class WriterClosedError extends Error {
  constructor() {
    super('The token repository is closed');
  }
}

/** Where a MOVED or ASK reply sends a write: `host:port`, and whether ASKING must go first. */
export function redirectOf(err: unknown): { address: string; asking: boolean } | undefined {
  if (!(err instanceof Error)) return undefined;
  const match = /^(MOVED|ASK) \d+ (\S+)$/.exec(err.message);
  return match === null ? undefined : { address: match[2]!, asking: match[1] === 'ASK' };
}

/** The database a connection is on, from a `CLIENT INFO` reply; undefined when unreadable. */
export function databaseOf(reply: unknown): number | undefined {
  const text = typeof reply === 'string' ? reply : Buffer.isBuffer(reply) ? reply.toString() : '';
  const db = /(?:^|\s)db=(\d+)(?:\s|$)/.exec(text)?.[1];
  return db === undefined ? undefined : Number(db);
}

/** A connection's commands, each preceded (in the same write to the socket) by SELECT and ASKING as needed. */
function prefixed(send: (args: string[]) => Promise<unknown>, db: number | undefined, asking: boolean): PinnedConnection {
  const withPrefix = (args: string[]): Promise<unknown> => {
    const before: Promise<unknown>[] = [];
    if (db !== undefined) before.push(send(['SELECT', String(db)]));
    if (asking) before.push(send(['ASKING']));
    if (before.length === 0) return send(args);
    // Sent in one go, in order; a failed SELECT or ASKING fails the call (the script may have
    // run elsewhere), and otherwise the script's own reply is the answer.
    return Promise.all([...before, send(args)]).then((replies) => replies[replies.length - 1]);
  };
  return {
    evalSha: (sha1, keys, args) => withPrefix(['EVALSHA', sha1, String(keys.length), ...keys, ...args]),
    eval: (source, keys, args) => withPrefix(['EVAL', source, String(keys.length), ...keys, ...args]),
    command: (args) => send(args),
  };
}

/** A connection being opened: settles once it is up, and can be torn down at any point. */
interface Opening<C> {
  ready: Promise<C>;
  dispose(): void;
}

/** Opens a connection once, on first need; never after close, and torn down by close without waiting. */
class Opener<C> {
  private opening: Promise<C> | undefined;
  private current: Opening<C> | undefined;
  private closed = false;
  private readonly open: () => Opening<C>;

  constructor(open: () => Opening<C>) {
    this.open = open;
  }

  get(): Promise<C> {
    if (this.closed) return Promise.reject(new WriterClosedError());
    this.opening ??= this.start();
    return this.opening;
  }

  close(): void {
    this.closed = true;
    this.current?.dispose();
    this.current = undefined;
  }

  private start(): Promise<C> {
    const opening = this.open();
    this.current = opening;
    return opening.ready.then(
      (client) => {
        // Opened after close(): torn down again, since node-redis's destroy() during a
        // connect leaves the socket that connect then opens; nothing may write on it.
        if (this.closed) {
          opening.dispose();
          throw new WriterClosedError();
        }
        return client;
      },
      (err: unknown) => {
        // A connection that failed to open is torn down, and the next write opens another.
        opening.dispose();
        if (this.current === opening) this.current = undefined;
        this.opening = undefined;
        throw err;
      },
    );
  }
}

/** A node-redis duplicate, silenced and connecting. */
function openNodeCopy(source: RawClient, overrides?: Record<string, unknown>): Opening<RawClient> {
  const copy = source.duplicate!(overrides);
  // node-redis reports every failed reconnect as an 'error' event, which unheard would end the
  // process; the writes that fail report it instead.
  copy.on?.('error', () => {});
  return { ready: copy.connect!().then(() => copy), dispose: () => teardown(copy) };
}

/** A pool's writer: a duplicate of one of its clients, outside the pool; the lease ends at once. */
function openPoolCopy(pool: RawClient): Opening<RawClient> {
  let copy: RawClient | undefined;
  let disposed = false;
  const ready = pool
    .execute!((lent) => {
      if (!disposed) copy = lent.duplicate!();
      return Promise.resolve();
    })
    .then(() => {
      if (copy === undefined) throw new WriterClosedError();
      copy.on?.('error', () => {});
      return copy.connect!().then(() => copy!);
    });
  return {
    ready,
    dispose() {
      disposed = true;
      if (copy !== undefined) teardown(copy);
    },
  };
}

/**
 * The writer of a node-redis standalone client, pool or Sentinel client: one duplicate of its
 * own. `database` tells which database the user's client is on now (undefined: as configured).
 */
export function nodeRedisWriter(raw: RawClient, kind: 'client' | 'pool' | 'sentinel', database: () => Promise<number | undefined>): Writer {
  const opener = new Opener<RawClient>(() => (kind === 'pool' ? openPoolCopy(raw) : openNodeCopy(raw)));
  return {
    close: () => opener.close(),
    async run<T>(_routeKey: string, task: WriteTask<T>): Promise<T> {
      const [own, db] = await Promise.all([opener.get(), kind === 'pool' ? undefined : database()]);
      if (kind === 'sentinel') {
        return own.use!((lease) => {
          const master = withoutTimer(lease);
          return task(prefixed((args) => master.sendCommand(false, args), db, false));
        }) as Promise<T>;
      }
      const single = withoutTimer(own);
      return task(prefixed((args) => single.sendCommand(args), db, false));
    },
  };
}

/**
 * The writer of a node-redis 6 cluster: one connection per master, each a duplicate of that
 * master's own client, opened when a write first goes there (a frozen master elsewhere delays
 * nothing). MOVED or ASK sends the write once to the node named; MOVED also lets the user's
 * cluster learn the new slot map, through one keyed command.
 */
export function clusterWriter(raw: RawClient, nudge: (routeKey: string) => void): Writer {
  const nodes = new Map<string, Opener<RawClient>>();
  let closed = false;
  const connectionTo = (address: string, source: RawClient): Promise<RawClient> => {
    if (closed) return Promise.reject(new WriterClosedError());
    let opener = nodes.get(address);
    if (opener === undefined) {
      const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
      opener = new Opener(() => openNodeCopy(source, { socket: { ...source.options?.socket, host, port } }));
      nodes.set(address, opener);
    }
    return opener.get();
  };
  const addressOf = (client: RawClient): string => {
    const socket = client.options?.socket as { host?: string; port?: number } | undefined;
    return `${socket?.host ?? '127.0.0.1'}:${socket?.port ?? 6379}`;
  };
  const on = async <T>(address: string, source: RawClient, asking: boolean, task: WriteTask<T>): Promise<T> => {
    const node = withoutTimer(await connectionTo(address, source));
    return task(prefixed((args) => node.sendCommand(args), undefined, asking));
  };
  return {
    close() {
      closed = true;
      for (const opener of nodes.values()) opener.close();
      nodes.clear();
    },
    async run<T>(routeKey: string, task: WriteTask<T>): Promise<T> {
      const owner = await raw.getNodeClientForKey!(routeKey, false);
      try {
        return await on(addressOf(owner), owner, false, task);
      } catch (err) {
        const redirect = redirectOf(err);
        if (redirect === undefined) throw err;
        if (!redirect.asking) nudge(routeKey);
        return on(redirect.address, owner, redirect.asking, task);
      }
    },
  };
}

/** The shape of an ioredis client the writer opens and drives. */
export interface IoRedisRaw {
  call(command: string, ...args: string[]): Promise<unknown>;
  duplicate?(override?: Record<string, unknown>): IoRedisRaw;
  connect?(): Promise<unknown>;
  disconnect?(): void;
  on?(event: 'error', listener: (err: unknown) => void): unknown;
  readonly condition?: { select?: number } | null;
  readonly options?: { db?: number };
}

/**
 * The writer of an ioredis `Redis` (standalone or Sentinel): a duplicate connected before its
 * first write (so a client without an offline queue works), on the database the user's client
 * has selected now.
 */
export function ioRedisWriter(client: IoRedisRaw): Writer {
  const opener = new Opener<IoRedisRaw>(() => {
    const copy = client.duplicate!({ lazyConnect: true });
    copy.on?.('error', () => {});
    return { ready: copy.connect!().then(() => copy), dispose: () => copy.disconnect?.() };
  });
  return {
    close: () => opener.close(),
    async run<T>(_routeKey: string, task: WriteTask<T>): Promise<T> {
      const own = await opener.get();
      return task(prefixed(([command, ...args]) => own.call(command!, ...args), client.condition?.select ?? client.options?.db, false));
    },
  };
}
