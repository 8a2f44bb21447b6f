// One Redis server and client shared by the specs of one file, opened before them and closed
// after them.
import { after, before } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { useRedis, type RedisServer } from './redis-server.js';

export interface SharedRedis {
  readonly server: RedisServer;
  readonly client: RedisClientType;
  /** Every key that starts with `prefix`, found with SCAN (specs only: the package never scans). */
  keysUnder(prefix: string): Promise<string[]>;
}

/** Registers the hooks that open and close the shared server and client. */
export function sharedRedis(): SharedRedis {
  let server: RedisServer | undefined;
  let client: RedisClientType | undefined;
  const shared: SharedRedis = {
    get server() {
      if (server === undefined) throw new Error('the shared Redis is used before its before() hook ran');
      return server;
    },
    get client() {
      if (client === undefined) throw new Error('the shared Redis is used before its before() hook ran');
      return client;
    },
    async keysUnder(prefix) {
      const keys: string[] = [];
      for await (const batch of shared.client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
      return keys;
    },
  };
  before(async () => {
    server = await useRedis();
    client = createClient({ url: server.url });
    await client.connect();
  });
  after(async () => {
    await client?.close();
    await server?.stop();
  });
  return shared;
}
