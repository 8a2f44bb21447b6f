// `npm run scale`: the model against a store of 1,000,000 tokens, on throwaway redis-servers.
// Two stores, each written through createToken: 100,000 users × 10 tokens, then 1,000,000
// users × 1. For each: used_memory against what the model predicts, verification p50 and p99
// against a 10,000-token store of the same shape (interleaved rounds), and each script's
// server time at that size. Writes capacity/scale.json and CAPACITY.md's generated part;
// exits 1 when memory is off the model by more than 10% or verification is not flat within 15%.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClientType } from 'redis';
import { startRedisServer, type RedisServer } from '../spec/support/redis-server.js';
import { hashKeyOf, phase, syntheticUserId, touchScript } from '../bench/capacity-ops.js';
import { DEVICE, plainClient } from '../bench/contenders.js';
import { median } from '../bench/measure.js';
import { pkg, token as tokenMath } from '../bench/package.js';
import { usedMemory } from '../bench/redis-info.js';
import { meterOverhead } from '../bench/server-meter.js';
import type { MultiTokenRepository } from '../src/repository.js';
import { readConstants, valueOf, type Constants } from './constants.js';
import { renderGenerated, spliceGenerated, type ScaleResult } from './doc.js';
import { datasetBytes, recordBytes } from './model.js';

const ROOT = new URL('../', import.meta.url);
const FILL_CONCURRENCY = 256;
const SMALL_TOKENS = 10_000;
const VERIFY_ROUNDS = 40;
const VERIFY_PER_ROUND = 2500;
const SCRIPT_USERS = 2000;
const MEMORY_TOLERANCE = 0.1;
const FLAT_TOLERANCE = 0.15;

function log(line: string): void {
  console.log(line);
}

interface Store {
  server: RedisServer;
  client: RedisClientType;
  repository: MultiTokenRepository;
  /** Keys of a sample of the store's tokens, for verification. */
  sample: string[];
}

async function openStore(): Promise<Store> {
  const server = await startRedisServer();
  const client = await plainClient(server.url);
  const repository = new pkg.MultiTokenRepository({ redis: client, maxTokensPerUser: null, touchInterval: 3600 });
  return { server, client, repository, sample: [] };
}

async function closeStore(store: Store): Promise<void> {
  await store.client.close().catch(() => {});
  await store.server.stop();
}

async function settledMemory(client: RedisClientType): Promise<number> {
  let last = await usedMemory(client);
  for (let i = 0; i < 40; i++) {
    await sleep(250);
    const now = await usedMemory(client);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Writes users × devices tokens through createToken, keeping `sampleSize` keys spread over the users. */
async function fill(store: Store, letter: string, users: number, devices: number, sampleSize: number): Promise<number> {
  const tokens = users * devices;
  const every = Math.max(1, Math.floor(tokens / sampleSize));
  const started = performance.now();
  let next = 0;
  let reported = 0;
  await Promise.all(
    Array.from({ length: FILL_CONCURRENCY }, async () => {
      while (next < tokens) {
        const i = next++;
        // Round-robin over users, so every user grows together as a real population would.
        const user = { id: syntheticUserId(letter, i % users) };
        const { token } = await store.repository.createToken(user, { device: DEVICE });
        if (i % every === 0) store.sample.push(token.key);
        if (i - reported >= 200_000) {
          reported = i;
          log(`    ${i.toLocaleString('en-US')} of ${tokens.toLocaleString('en-US')} tokens written`);
        }
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

type Histogram = ReturnType<typeof createHistogram>;

/** Records `count` sequential verifications of the sample's tokens into `histogram` (ns). */
async function verifyLatency(store: Store, count: number, offset: number, histogram: Histogram = createHistogram()): Promise<void> {
  for (let i = 0; i < count; i++) {
    const key = store.sample[(offset + i * 7919) % store.sample.length]!;
    const t0 = process.hrtime.bigint();
    const found = await store.repository.authenticate(key);
    histogram.record(process.hrtime.bigint() - t0);
    if (found === null) throw new Error('a verification failed');
  }
}

/** Each script's EVALSHA time and CPU on SCRIPT_USERS users of the store, at `devices` tokens per user. */
async function scriptCosts(store: Store, letter: string, devices: number, constants: Constants): Promise<ScaleResult['phases'][number]['scripts']> {
  const admin = store.client;
  const overhead = await meterOverhead(admin, 500);
  const users = Array.from({ length: SCRIPT_USERS }, (_, i) => ({ id: syntheticUserId(letter, i * 37) }));
  const repo = store.repository;
  const out: ScaleResult['phases'][number]['scripts'] = {};
  const bench = (op: string): number | null => (devices === 1 || devices === 10 ? valueOf(constants, `${op}.${devices}.cpuUs`) : null);
  const run = async (op: string, call: (i: number) => Promise<unknown>): Promise<void> => {
    const r = await phase(admin, overhead, users.length, 'evalsha', async () => {
      for (let i = 0; i < users.length; i++) await call(i);
    });
    out[op] = { execUs: r.execUs, cpuUs: r.cpuUs, benchCpuUs: bench(op) };
  };
  // Revoke (n → n−1) then create (back to n), as the bench prices them.
  const listed = await Promise.all(users.map((u) => repo.listTokens(u)));
  await run('revoke', (i) => repo.expireTokenById(users[i]!, listed[i]![0]!.id));
  const keys: string[] = [];
  await run('create', async (i) => keys.push((await repo.createToken(users[i]!, { device: DEVICE })).token.key));
  // The token just created: live whatever the size.
  await run('touch', (i) => touchScript(admin, hashKeyOf(users[i]!.id), tokenMath.tokenId(keys[i]!, null)));
  await run('list', (i) => repo.listTokens(users[i]!));
  await run('expireAll', (i) => repo.expireAllTokens(users[i]!));
  return out;
}

async function measurePhase(constants: Constants, letter: string, users: number, devices: number): Promise<ScaleResult['phases'][number]> {
  log(`  store: ${users.toLocaleString('en-US')} users × ${devices} tokens`);
  const big = await openStore();
  const small = await openStore();
  try {
    const before = await settledMemory(big.client);
    const writeSeconds = await fill(big, letter, users, devices, 5000);
    const measuredBytes = (await settledMemory(big.client)) - before;
    const rssInfo = await big.client.info('memory');
    const rss = Number(/used_memory_rss:(\d+)/.exec(rssInfo)?.[1] ?? Number.NaN);
    const used = Number(/used_memory:(\d+)/.exec(rssInfo)?.[1] ?? Number.NaN);
    const valueBytes = recordBytes(constants, syntheticUserId(letter, 0).length, Buffer.byteLength(DEVICE), false);
    const modelBytes = datasetBytes(constants, users, devices, valueBytes, 1).bytes;
    log(`    ${(writeSeconds).toFixed(0)} s; used_memory grew ${(measuredBytes / 1e6).toFixed(1)} MB, the model says ${(modelBytes / 1e6).toFixed(1)} MB (${((measuredBytes / modelBytes - 1) * 100).toFixed(1)}%)`);

    await fill(small, letter, Math.ceil(SMALL_TOKENS / devices), devices, 5000);
    // Warm both, then interleave: big, small, small, big, ...
    await verifyLatency(big, 300, 1);
    await verifyLatency(small, 300, 1);
    // Many short rounds, the two stores back to back in each (which goes first alternates):
    // a burst of load from the machine's other processes falls on both halves of a round
    // alike, so each round gives a ratio, and the median ratio is the figure.
    const bigLatency = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
    const smallLatency = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
    const at = (h: Histogram, p: number): number => h.percentile(p) / 1e3;
    const p50Ratios: number[] = [];
    const p99Ratios: number[] = [];
    for (let r = 0; r < VERIFY_ROUNDS; r++) {
      const bigRound = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
      const smallRound = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
      const order = r % 2 === 0 ? [big, small] : [small, big];
      for (const store of order) await verifyLatency(store, VERIFY_PER_ROUND, r * VERIFY_PER_ROUND, store === big ? bigRound : smallRound);
      p50Ratios.push(at(bigRound, 50) / at(smallRound, 50));
      p99Ratios.push(at(bigRound, 99) / at(smallRound, 99));
      bigLatency.add(bigRound);
      smallLatency.add(smallRound);
    }
    const verify = {
      p50: at(bigLatency, 50),
      p99: at(bigLatency, 99),
      smallP50: at(smallLatency, 50),
      smallP99: at(smallLatency, 99),
      p50Ratio: median(p50Ratios),
      p99Ratio: median(p99Ratios),
      rounds: VERIFY_ROUNDS,
      perStore: VERIFY_ROUNDS * VERIFY_PER_ROUND,
    };
    log(`    verification p50 ${verify.p50.toFixed(1)} µs, p99 ${verify.p99.toFixed(1)} µs; at 10,000 tokens ${verify.smallP50.toFixed(1)} / ${verify.smallP99.toFixed(1)} µs (ratios ${verify.p50Ratio.toFixed(2)} / ${verify.p99Ratio.toFixed(2)})`);
    const scripts = await scriptCosts(big, letter, devices, constants);
    log(`    scripts: ${Object.entries(scripts).map(([op, s]) => `${op} ${s.execUs.toFixed(1)} µs`).join(', ')}`);
    return { users, devices, tokens: users * devices, writeSeconds, measuredBytes, modelBytes, ratio: measuredBytes / modelBytes, rssOverUsed: rss / used, verify, scripts };
  } finally {
    await closeStore(big);
    await closeStore(small);
  }
}

async function main(): Promise<void> {
  if (process.argv.length > 2) throw new Error('npm run scale takes no arguments');
  const { file, constants } = readConstants(JSON.parse(readFileSync(new URL('capacity/constants.json', ROOT), 'utf8')) as unknown);
  const startedAt = new Date();
  const loadStart = loadavg();
  log(`scale run: the model (constants from ${Object.keys(file.runs).join(', ')}) against 1,000,000 tokens; load ${loadStart.map((l) => l.toFixed(2)).join(', ')}`);
  const phases = [await measurePhase(constants, 'x', 100_000, 10), await measurePhase(constants, 'y', 1_000_000, 1)];
  const result: ScaleResult = {
    run: `scale-${startedAt.toISOString().replace(/[:.]/g, '-')}`,
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    commit: execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8' }).trim(),
    loadAverage: { start: loadStart.map((l) => Math.round(l * 100) / 100), end: loadavg().map((l) => Math.round(l * 100) / 100) },
    phases,
  };
  writeFileSync(new URL('capacity/scale.json', ROOT), `${JSON.stringify(result, null, 2)}\n`);
  const path = new URL('CAPACITY.md', ROOT);
  const document = existsSync(path) ? readFileSync(path, 'utf8') : '# Capacity\n';
  writeFileSync(path, spliceGenerated(document, renderGenerated(file, constants, result)));
  log(`wrote capacity/scale.json and CAPACITY.md (generated part); took ${Math.round(result.seconds)} s`);
  const misses: string[] = [];
  for (const p of phases) {
    if (Math.abs(p.ratio - 1) > MEMORY_TOLERANCE) misses.push(`memory at ${p.users} × ${p.devices} is ${((p.ratio - 1) * 100).toFixed(1)}% off the model (allowed ±${MEMORY_TOLERANCE * 100}%)`);
    for (const [what, ratio] of [['p50', p.verify.p50Ratio], ['p99', p.verify.p99Ratio]] as const) {
      if (Math.abs(ratio - 1) > FLAT_TOLERANCE) misses.push(`verification ${what} at ${p.tokens} tokens is ${ratio.toFixed(2)}× the 10,000-token store's (allowed ±${FLAT_TOLERANCE * 100}%)`);
    }
  }
  for (const miss of misses) console.error(`MISSED: ${miss}`);
  if (misses.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
