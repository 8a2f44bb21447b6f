// Server time of every script at the worst case the package allows, as Redis measures it
// (SLOWLOG, every command logged), on a throwaway redis-server:
//   A. one user at the default cap (100 tokens), every record the largest accepted (~1 KB);
//   B. one hash at its bound (HASH_MAX_FIELDS), shared by 100 users, the same records.
// Prints a Markdown table for BENCHMARKS.md. Not part of `npm run bench`:
//   node --import tsx bench/script-times.ts [rounds=20]
import { createClient, type RedisClientType } from 'redis';
import { CallDeadline } from '../src/deadline.js';
import { MultiTokenRepository } from '../src/index.js';
import { nodeRedisStore } from '../src/client.js';
import { HASH_MAX_FIELDS } from '../src/keys.js';
import { runScript } from '../src/run-script.js';
import { PRUNE_TOKENS, SERVER_TIME } from '../src/scripts.js';
import { hashKeyOf } from '../spec/support/layout.js';
import { startRedisServer } from '../spec/support/redis-server.js';
import { largestRecord, LARGEST_OPTIONS, logEveryCommand, longestUserId, median, randomTokenId, scriptTimes } from '../spec/support/script-time.js';

const rounds = Number(process.argv[2] ?? '20');
const DAY_MS = 86_400_000;

type Times = Map<string, number[]>;

function add(into: Times, from: Times): void {
  for (const [name, calls] of from) into.set(name, [...(into.get(name) ?? []), ...calls]);
}

function row(label: string, name: string, calls: readonly number[]): string {
  const sorted = [...calls].sort((a, b) => a - b);
  const p90 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.9))]!;
  return `| ${label} | ${name} | ${calls.length} | ${median(calls)} | ${p90} | ${sorted[sorted.length - 1]!} |`;
}

async function atDefaultCap(admin: RedisClientType, prune: () => Promise<unknown>): Promise<Times> {
  const tokens = new MultiTokenRepository({ redis: admin, keyPrefix: 'cap:', idleTimeout: 7 * 86400, touchInterval: 0 });
  const user = { id: longestUserId(0) };
  const refill = async (): Promise<void> => {
    const have = (await tokens.listTokens(user)).length;
    for (let i = have; i < 100; i++) await tokens.createToken(user, LARGEST_OPTIONS);
  };
  await refill();
  await tokens.expireAllTokens(user);
  await refill();
  await prune();
  const times: Times = new Map();
  for (let round = 0; round < rounds; round++) {
    await refill();
    await scriptTimes(admin);
    const { token } = await tokens.createToken(user, LARGEST_OPTIONS);
    await tokens.listTokens(user);
    await tokens.authenticate(token.key);
    await tokens.expireTokenById(user, randomTokenId());
    await prune();
    await tokens.expireOtherTokens(user, token.key);
    add(times, await scriptTimes(admin));
    await refill();
    await scriptTimes(admin);
    await tokens.expireAllTokens(user);
    add(times, await scriptTimes(admin));
  }
  return times;
}

async function atHashBound(admin: RedisClientType, prune: () => Promise<unknown>): Promise<Times> {
  const tokens = new MultiTokenRepository({ redis: admin, keyPrefix: 'bound:', maxTokensPerUser: null });
  const victim = { id: longestUserId(0) };
  const key = hashKeyOf('bound:', victim.id);
  const fields: Record<string, string> = {};
  for (let i = 0; i < HASH_MAX_FIELDS; i++) fields[randomTokenId()] = largestRecord(longestUserId(i % 100), Date.now(), DAY_MS);
  await admin.hSet(key, fields);
  await tokens.createToken(victim).catch(() => undefined);
  await tokens.listTokens(victim);
  await tokens.expireTokenById(victim, randomTokenId());
  await prune();
  const times: Times = new Map();
  for (let round = 0; round < rounds; round++) {
    await scriptTimes(admin);
    await tokens.createToken(victim, LARGEST_OPTIONS).then(
      () => {
        throw new Error('the hash took a token past its bound');
      },
      () => undefined,
    );
    await tokens.listTokens(victim);
    await tokens.expireTokenById(victim, randomTokenId());
    await prune();
    add(times, await scriptTimes(admin));
  }
  if ((await admin.hLen(key)) !== HASH_MAX_FIELDS) throw new Error('the hash is not at its bound');
  return times;
}

async function main(): Promise<void> {
  const server = await startRedisServer();
  const admin: RedisClientType = createClient({ url: server.url });
  await admin.connect();
  try {
    const store = nodeRedisStore(admin);
    const deadline = new CallDeadline(10_000);
    const pruneOf = (key: string) => () => runScript(store, deadline, PRUNE_TOKENS, [key], ['0', '']);
    await logEveryCommand(admin);
    const cap = await atDefaultCap(admin, pruneOf(hashKeyOf('cap:', longestUserId(0))));
    await runScript(store, deadline, SERVER_TIME, ['cap:{x}'], []);
    await scriptTimes(admin);
    for (let i = 0; i < rounds; i++) await runScript(store, deadline, SERVER_TIME, ['cap:{x}'], []);
    const time = await scriptTimes(admin);
    const bound = await atHashBound(admin, pruneOf(hashKeyOf('bound:', longestUserId(0))));
    console.log(`Server time per script call, µs (SLOWLOG), ${rounds} rounds; records of ~1 KB.\n`);
    console.log('| case | script | calls | median | p90 | max |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    for (const name of ['create', 'list', 'touch', 'expire', 'expire-user', 'prune']) {
      const calls = cap.get(name);
      if (calls !== undefined) console.log(row('one user at the default cap (100)', name, calls));
    }
    console.log(row('any', 'time', time.get('time') ?? []));
    for (const name of ['create', 'list', 'expire', 'prune']) {
      const calls = bound.get(name);
      if (calls !== undefined) console.log(row(`a hash at its bound (${HASH_MAX_FIELDS}, 100 users)`, name === 'create' ? 'create (refused)' : name, calls));
    }
  } finally {
    await admin.close();
    await server.stop();
  }
}

await main();
