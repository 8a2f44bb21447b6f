// One Redis server and client shared by the specs of one file (or one describe): started and
// connected by a before() hook, closed by an after() hook, and read through getters that fail
// loudly when used before the hook ran. By default the server is REDIS_URL's when set; a spec
// that stops, freezes or reconfigures its server, changes its users or counts its commands asks
// for one of its own.
import { after, before } from 'node:test';
import { createClient, type RedisClientOptions, type RedisClientType } from 'redis';
import { startRedisServer, useRedis, type RedisServer } from './redis-server.js';

/**
 * Which server the specs share: REDIS_URL's when set, else a throwaway one; with `own`, always
 * a throwaway one of the specs' own, started with the extra redis-server `args`.
 */
export type SharedRedisOptions = { own?: false } | { own: true; args?: readonly string[] };

export interface SharedRedis {
  readonly server: RedisServer;
  /** A node-redis client on the server. */
  readonly client: RedisClientType;
  /** Every key that starts with `prefix`, found with SCAN (specs only: the package never scans). */
  keysUnder(prefix: string): Promise<string[]>;
  /** Opens another client on the server (`url` defaults to the server's), closed by the after() hook. */
  connect(options?: RedisClientOptions): Promise<RedisClientType>;
  /**
   * Registers a before() hook that runs `setUp` once the server is up and the client connected.
   * (A plain before() beside this helper at the top of a file would not wait: Node 20 runs
   * top-level before() hooks at once, side by side.)
   */
  before(setUp: () => unknown): void;
  /**
   * Registers `tearDown` to run in the after() hook, before the clients close and the server
   * stops: for what needs the server up to close cleanly. (A plain after() would run later.)
   */
  after(tearDown: () => unknown): void;
}

const TOO_EARLY = 'the shared Redis is used before its before() hook ran';

/**
 * A node-redis client, not yet connected, that ignores 'error' events: specs stop and freeze
 * servers on purpose, the client's commands still reject, and an 'error' event with no
 * listener would end the whole file.
 */
function quietClient(options: RedisClientOptions): RedisClientType {
  const client: RedisClientType = createClient(options);
  client.on('error', () => {});
  return client;
}

/** A node-redis client connected to `server` (see {@link quietClient}); the caller closes it. */
export async function connectTo(server: RedisServer): Promise<RedisClientType> {
  const client = quietClient({ url: server.url });
  await client.connect();
  return client;
}

/** Registers the hooks that start and stop the shared server and open and close its clients. */
export function sharedRedis(options: SharedRedisOptions = {}): SharedRedis {
  let server: RedisServer | undefined;
  let client: RedisClientType | undefined;
  let started: Promise<void> | undefined;
  const clients: RedisClientType[] = [];
  const tearDowns: (() => unknown)[] = [];
  const shared: SharedRedis = {
    get server() {
      if (server === undefined) throw new Error(TOO_EARLY);
      return server;
    },
    get client() {
      if (client === undefined) throw new Error(TOO_EARLY);
      return client;
    },
    async keysUnder(prefix) {
      const keys: string[] = [];
      for await (const batch of shared.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
      return keys;
    },
    async connect(clientOptions = {}) {
      const opened = quietClient({ url: shared.server.url, ...clientOptions });
      clients.push(opened);
      await opened.connect();
      return opened;
    },
    before(setUp) {
      before(async () => {
        if (started === undefined) throw new Error(TOO_EARLY);
        await started;
        await setUp();
      });
    },
    after(tearDown) {
      tearDowns.push(tearDown);
    },
  };
  before(() => {
    started = (async () => {
      server = options.own === true ? await startRedisServer([...(options.args ?? [])]) : await useRedis();
      client = await shared.connect();
    })();
    return started;
  });
  after(async () => {
    for (const tearDown of tearDowns) await tearDown();
    // destroy, not close: a spec may have left the server down or frozen, and close would wait.
    for (const opened of clients) opened.destroy();
    await server?.stop();
  });
  return shared;
}
