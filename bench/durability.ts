// `node --import tsx bench/durability.ts`: what an fsync costs, and what `everysec` loses.
//
// 1. createToken, expireToken and authenticate latency (p50, p99, one caller) and throughput
//    (16 callers) on a throwaway server with AOF on: `appendfsync everysec`, `always`, and
//    `everysec` with `durable: true` (Valkey only: Redis 7.0 has no WAITAOF).
// 2. Acknowledged revocations that come back after a kill -9 under `everysec`, with writes
//    flowing from another connection, with and without `durable`.
// Set VALKEY_SERVER for the Valkey rows. Prints Markdown tables; writes nothing.
import { createClient, type RedisClientType } from 'redis';
import { MultiTokenRepository, type IssuedToken } from '../src/index.js';
import { startRedisServer, type RedisServer, type ServerOptions } from '../spec/support/redis-server.js';

interface User {
  id: string;
}

const VALKEY = process.env.VALKEY_SERVER;

async function connect(server: RedisServer): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url: server.url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

async function latency(count: number, call: (i: number) => Promise<unknown>): Promise<string> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call(i);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return `${percentile(times, 0.5).toFixed(2)} / ${percentile(times, 0.99).toFixed(2)}`;
}

async function throughput(ms: number, callers: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let done = 0;
  const end = performance.now() + ms;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < end) await call(done++);
    }),
  );
  return Math.round(done / (ms / 1000));
}

async function costs(label: string, binary: string, server: ServerOptions, durable: boolean): Promise<string> {
  const redis = await startRedisServer([], { ...server, binary });
  const client = await connect(redis);
  const tokens = new MultiTokenRepository<User>({ redis: client, durable, maxTokensPerUser: null, ttl: 3600 });
  try {
    const pool: IssuedToken<User>[] = [];
    let users = 0;
    // A user per login, as in production: a create's cost does not grow with one user's tokens.
    const create = (): Promise<unknown> => tokens.createToken({ id: `u${users++}` }).then(({ token }) => pool.push(token));
    await latency(50, create);
    const createLatency = await latency(300, create);
    const createRate = await throughput(2000, 16, create);
    const verify = (i: number): Promise<unknown> => tokens.authenticate(pool[i % pool.length]!.key);
    const verifyLatency = await latency(1000, verify);
    const verifyRate = await throughput(2000, 16, verify);
    let next = 0;
    const revoke = (): Promise<unknown> => tokens.expireToken(pool[next++]!.key);
    const revokeLatency = await latency(300, revoke);
    const before = next;
    const started = performance.now();
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < pool.length && performance.now() - started < 2000) await revoke();
    }));
    const revokeRate = Math.round((next - before) / ((performance.now() - started) / 1000));
    return `| ${label} | ${createLatency} | ${createRate} | ${revokeLatency} | ${revokeRate} | ${verifyLatency} | ${verifyRate} |`;
  } finally {
    await tokens.close();
    client.destroy();
    await redis.stop();
  }
}

async function losses(label: string, binary: string, durable: boolean, kills: number, perKill: number): Promise<string> {
  const redis = await startRedisServer([], { binary, appendfsync: 'everysec' });
  let back = 0;
  try {
    for (let round = 0; round < kills; round++) {
      const client = await connect(redis);
      const noise = await connect(redis);
      let flowing = true;
      // Four writers of 16 KB values keep the AOF and its fsync busy.
      const writing = Promise.all(Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; flowing; i++) await noise.hSet(`noise${w}`, String(i % 200), 'x'.repeat(16_384)).catch(() => {});
      }));
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: `loss${round}:`, durable });
      const issued = [];
      for (let i = 0; i < perKill; i++) issued.push((await tokens.createToken({ id: `u${i}` })).token);
      await Promise.all(issued.map((token) => tokens.expireToken(token.key)));
      redis.kill();
      flowing = false;
      await tokens.close();
      client.destroy();
      noise.destroy();
      await writing;
      await redis.stop();
      await redis.restart();
      const check = await connect(redis);
      const after = new MultiTokenRepository<User>({ redis: check, keyPrefix: `loss${round}:` });
      back += (await Promise.all(issued.map((token) => after.authenticate(token.key)))).filter((found) => found !== null).length;
      check.destroy();
    }
  } finally {
    await redis.stop();
  }
  return `| ${label} | ${kills * perKill} | ${kills} | ${back} |`;
}

const servers: [string, string][] = [['Redis 7.0', 'redis-server']];
if (VALKEY !== undefined && VALKEY !== '') servers.push(['Valkey 8.0.1', VALKEY]);

console.log('| setup | create p50 / p99 ms | creates/s (16 callers) | revoke p50 / p99 ms | revokes/s | verify p50 / p99 ms | verifies/s |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, binary] of servers) {
  console.log(await costs(`${name}, everysec`, binary, { appendfsync: 'everysec' }, false));
  console.log(await costs(`${name}, always`, binary, { appendfsync: 'always' }, false));
  if (name !== 'Redis 7.0') console.log(await costs(`${name}, everysec, durable: true`, binary, { appendfsync: 'everysec' }, true));
}
console.log('\n| kill -9 under everysec | acknowledged revocations | kills | came back |');
console.log('|---|---|---|---|');
for (const [name, binary] of servers) {
  console.log(await losses(name, binary, false, 15, 10));
  if (name !== 'Redis 7.0') console.log(await losses(`${name}, durable: true`, binary, true, 15, 10));
}
