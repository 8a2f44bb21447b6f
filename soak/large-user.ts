// What one user with a very large number of tokens costs, with `maxTokensPerUser: null`.
//
//   node --import tsx soak/large-user.ts                  sizes 100, 250 and 499
//   node --import tsx soak/large-user.ts --sizes 50,400
//
// A hash holds at most HASH_MAX_FIELDS (500) tokens: createToken refuses past it, so a size
// is at most 499 (the timed create adds one).
// Every write script and listTokens read the whole hash of the user's routing tag, so their
// cost grows with the number of tokens in it, and Redis serves no one else while a script runs.
// Verification is one HGET and stays flat. The hash is filled by writing records in the
// package's own format straight into it (creating 100,000 tokens one by one would itself take
// O(n²)); the calls timed are the package's public ones. Runs on a throwaway redis-server
// (REDIS_URL to use another: its INFO commandstats are reset; the user's keys are removed
// afterwards).
import { randomBytes } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { createClient, type RedisClientType } from 'redis';
import { median, percentile, timeEach } from '../bench/measure.js';
import { HASH_MAX_FIELDS, tagKey } from '../src/keys.js';
import { SEPARATOR, recordTail } from '../src/record.js';
import { MultiTokenRepository } from '../src/repository.js';
import { pepperFingerprint, routingTag } from '../src/token.js';
import { useRedis } from '../spec/support/redis-server.js';

const DEVICE = 'Firefox 128 on macOS 14';
const KEY_PREFIX = 'large-user:';
const FILL_BATCH = 1000;
const DAY_MS = 86_400_000;

interface Row {
  tokens: number;
  /** Median and p90 wall time of each call, ms. */
  create: [number, number];
  expire: [number, number];
  list: [number, number];
  verify: [number, number];
  expireAll: number;
  /** Server time of one create and one list script, µs (INFO commandstats). */
  createServerUs: number;
  listServerUs: number;
  /** CPU time of this process during one listTokens, µs: decoding the records blocks its event loop. */
  listCpuUs: number;
}

function readSizes(argv: readonly string[]): number[] {
  const at = argv.indexOf('--sizes');
  if (at === -1) return [100, 250, HASH_MAX_FIELDS - 1];
  const sizes = (argv[at + 1] ?? '').split(',').map(Number);
  if (sizes.length === 0 || sizes.some((n) => !Number.isSafeInteger(n) || n < 1 || n >= HASH_MAX_FIELDS)) {
    throw new TypeError(`--sizes takes a comma-separated list of positive integers below ${HASH_MAX_FIELDS}`);
  }
  return sizes;
}

/** Writes `count` live records of `userId` straight into its hash, as the create script would. */
async function fill(client: RedisClientType, userId: string, count: number): Promise<void> {
  const key = tagKey(KEY_PREFIX, routingTag(userId));
  const now = Date.now();
  const tail = recordTail(['*'], DEVICE, {});
  for (let done = 0; done < count; done += FILL_BATCH) {
    const fields: Record<string, string> = {};
    for (let i = done; i < Math.min(count, done + FILL_BATCH); i++) {
      const created = now - i;
      // An id as the package makes them: the fingerprint of no pepper, then 108 random bits.
      fields[pepperFingerprint(null) + randomBytes(16).toString('base64url').slice(0, 18)] =
        [created.toString(36), (created + DAY_MS).toString(36), '', userId, tail].join(SEPARATOR);
    }
    await client.hSet(key, fields);
  }
  await client.pExpireAt(key, now + DAY_MS);
}

/** Server µs per EVALSHA during `op`, from INFO commandstats (which it resets first). */
async function serverMicros(client: RedisClientType, op: () => Promise<unknown>): Promise<number> {
  await client.configResetStat();
  await op();
  const stats = await client.info('commandstats');
  const line = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
  if (line === null) throw new Error('INFO commandstats has no evalsha line');
  return Number(line[2]) / Number(line[1]);
}

const ms = (us: number[]): [number, number] => [median(us) / 1000, percentile(us, 90) / 1000];

async function measure(client: RedisClientType, repository: MultiTokenRepository, size: number): Promise<Row> {
  const user = { id: `large-${size}` };
  await fill(client, user.id, size);
  const calls = size >= 100_000 ? 10 : size >= 10_000 ? 30 : 100;
  // Warm the scripts and the JIT on this user: one create and one revoke.
  const { token: warm } = await repository.createToken(user, { device: DEVICE });
  await repository.expireToken(warm.key);

  let last = '';
  const create = await timeEach(calls, async () => (last = (await repository.createToken(user, { device: DEVICE })).token.key), () => repository.expireToken(last));
  const createServerUs = await serverMicros(client, () => repository.createToken(user, { device: DEVICE }).then(({ token }) => (last = token.key)));
  await repository.expireToken(last);
  const keys: string[] = [];
  for (let i = 0; i < calls; i++) keys.push((await repository.createToken(user, { device: DEVICE })).token.key);
  let next = 0;
  const expire = await timeEach(calls, async () => {
    if (!(await repository.expireToken(keys[next++]))) throw new Error('a token to revoke was not found');
  });
  const list = await timeEach(Math.max(3, Math.ceil(calls / 3)), async () => {
    const tokens = await repository.listTokens(user);
    if (tokens.length !== size) throw new Error(`listTokens gave ${tokens.length} of ${size} tokens`);
  });
  const listServerUs = await serverMicros(client, () => repository.listTokens(user));
  const cpu = process.cpuUsage();
  await repository.listTokens(user);
  const { user: cpuUser, system: cpuSystem } = process.cpuUsage(cpu);
  const listCpuUs = cpuUser + cpuSystem;
  const { token } = await repository.createToken(user, { device: DEVICE });
  const verify = await timeEach(1000, async () => {
    if ((await repository.authenticate(token.key)) === null) throw new Error('a live token did not authenticate');
  });
  const t0 = process.hrtime.bigint();
  const removed = await repository.expireAllTokens(user);
  const expireAll = Number(process.hrtime.bigint() - t0) / 1e6;
  if (removed !== size + 1) throw new Error(`expireAllTokens removed ${removed} of ${size + 1} tokens`);
  return { tokens: size, create: ms(create), expire: ms(expire), list: ms(list), verify: ms(verify), expireAll, createServerUs, listServerUs, listCpuUs };
}

const fmt = (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

async function main(): Promise<void> {
  const sizes = readSizes(process.argv.slice(2));
  const server = await useRedis();
  const client: RedisClientType = createClient({ url: server.url });
  await client.connect();
  const repository = new MultiTokenRepository({ redis: client, keyPrefix: KEY_PREFIX, maxTokensPerUser: null, timeout: 60_000 });
  try {
    const version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? '?';
    console.log(
      `Redis ${version}, Node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores; ` +
        "ms per call, median / p90; Redis busy: one script's time, from INFO commandstats\n",
    );
    console.log('| Tokens in the hash | createToken | create, Redis busy | expireToken | listTokens | list, Redis busy | list, app CPU | authenticate | expireAllTokens |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const size of sizes) {
      const row = await measure(client, repository, size);
      console.log(
        `| ${row.tokens.toLocaleString('en')} | ${fmt(row.create[0])} / ${fmt(row.create[1])} | ${fmt(row.createServerUs / 1000)} ` +
          `| ${fmt(row.expire[0])} / ${fmt(row.expire[1])} | ${fmt(row.list[0])} / ${fmt(row.list[1])} | ${fmt(row.listServerUs / 1000)} | ${fmt(row.listCpuUs / 1000)} ` +
          `| ${fmt(row.verify[0])} / ${fmt(row.verify[1])} | ${fmt(row.expireAll)} |`,
      );
    }
  } finally {
    await repository.close();
    await client.close();
    await server.stop();
  }
}

await main();
