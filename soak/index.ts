// `npm run soak`: mixed token calls at high concurrency for a bounded time, then checks that
// nothing leaked and nothing revoked came back.
//
//   npm run soak                        45 s of load, then the checks: about 60 s in all
//   npm run soak -- --seconds 600       ten minutes of load
//   npm run soak -- --concurrency 16    calls in flight (default 64)
//
// It starts its own throwaway redis-server (REDIS_URL to use another: keys are then counted
// under the soak's own prefix with SCAN, and used_memory is the whole server's). It is not part
// of `npm test`. It prints a summary and exits 1 when a check fails.
import { availableParallelism, loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createClient, type RedisClientType } from 'redis';
import { tagKey } from '../src/keys.js';
import { MultiTokenRepository } from '../src/repository.js';
import { routingTag } from '../src/token.js';
import { useRedis, type RedisServer } from '../spec/support/redis-server.js';
import type { SoakUser } from './ledger.js';
import { OPERATIONS, Workload, type WorkloadOptions } from './load.js';

const LOAD: WorkloadOptions = {
  users: 5000,
  hotUsers: 16,
  hotShare: 0.2,
  ttlMin: 1,
  ttlMax: 3,
  noTtlShare: 0.05,
  idleMs: 2000,
};
const CAP = 8;
const TOUCH_SECONDS = 0.5;
const ANCHOR_USERS = 32;
const ANCHOR_TOKENS = 2;
// After the load stops, every token is dead once the longest lifetime (absolute or idle) has
// passed; Redis then needs a moment to reclaim the expired keys.
const LONGEST_LIFE_MS = Math.max(LOAD.ttlMax * 1000, LOAD.idleMs);
const DRAIN_LIMIT_MS = 20_000;
const MiB = 1024 * 1024;

interface Sample {
  /** Seconds since the load started. */
  t: number;
  keys: number;
  /** Hashes the soak expects: users holding a token it believes alive, plus the anchors. */
  expected: number;
  /** Fields of the largest hash. */
  largestHash: number;
  usedMemory: number;
  heapUsed: number;
  callsPerSec: number;
}

interface Check {
  name: string;
  value: string;
  limit: string;
  pass: boolean;
}

function readOptions(): { seconds: number; concurrency: number } {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '45' }, concurrency: { type: 'string', default: '64' } },
    strict: true,
  });
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  if (!Number.isFinite(seconds) || seconds < 10) throw new TypeError('--seconds must be a number, 10 or more');
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new TypeError('--concurrency must be a positive integer');
  return { seconds, concurrency };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

/** Counts the soak's keys: DBSIZE on its own server, SCAN under its prefix on REDIS_URL's. */
async function keyCount(admin: RedisClientType, server: RedisServer, prefix: string): Promise<number> {
  return server.external ? (await keysUnder(admin, prefix)).length : admin.dbSize();
}

async function keysUnder(admin: RedisClientType, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...batch);
  return keys;
}

/** The number of fields of the largest hash under `prefix`. */
async function largestHash(admin: RedisClientType, prefix: string): Promise<number> {
  const sizes = await Promise.all((await keysUnder(admin, prefix)).map((key) => admin.hLen(key)));
  return Math.max(0, ...sizes);
}

async function usedMemory(admin: RedisClientType): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1] ?? Number.NaN);
}

function heapUsed(): number {
  // With --expose-gc (as `npm run soak` runs it), a collection first: the figure is what is
  // retained, not what is waiting for the collector.
  globalThis.gc?.();
  return process.memoryUsage().heapUsed;
}

/** Compares the second half of the samples after warm-up with the first half. */
// The second half's median may exceed the first half's by `factor` plus `slack`: room for the
// noise of a shared machine, not for growth that goes on for the whole run.
function growthCheck(
  name: string,
  samples: readonly Sample[],
  read: (s: Sample) => number,
  { factor, slack }: { factor: number; slack: number },
  show: (n: number) => string,
): Check {
  const half = samples.length >> 1;
  const first = median(samples.slice(0, half).map(read));
  const second = median(samples.slice(samples.length - half).map(read));
  const limit = first * factor + slack;
  return {
    name: `${name} bounded (2nd half vs 1st half, medians)`,
    value: `${show(second)} vs ${show(first)}`,
    limit: `≤ ${show(limit)}`,
    pass: half >= 2 && second <= limit,
  };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [header, header.map(() => '---'), ...rows].map((row) => `| ${row.join(' | ')} |`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { seconds, concurrency } = readOptions();
  const server = await useRedis();
  const prefix = `soak:${process.pid}:`;
  const client: RedisClientType = createClient({ url: server.url });
  const admin: RedisClientType = createClient({ url: server.url });
  await Promise.all([client.connect(), admin.connect()]);
  const repository = new MultiTokenRepository<SoakUser>({
    redis: client,
    keyPrefix: prefix,
    idleTimeout: LOAD.idleMs / 1000,
    touchInterval: TOUCH_SECONDS,
    maxTokensPerUser: CAP,
  });
  // Long-lived tokens of other users, through a repository without idle expiry: their hashes
  // must be all that is left at the end.
  const anchorRepository = new MultiTokenRepository<SoakUser>({ redis: client, keyPrefix: prefix, ttl: 3600 });
  try {
    const anchorUsers = Array.from({ length: ANCHOR_USERS }, (_, i) => ({ id: `soak-anchor-${i}` }));
    const anchorKeys: string[] = [];
    for (const user of anchorUsers) {
      for (let i = 0; i < ANCHOR_TOKENS; i++) anchorKeys.push((await anchorRepository.createToken(user, { device: 'anchor' })).token.key);
    }
    const workload = new Workload(repository, LOAD, { repository: anchorRepository, keys: anchorKeys });
    const anchorTags = new Set(anchorUsers.map((user) => routingTag(user.id)));
    if (workload.tags().some((tag) => anchorTags.has(tag))) throw new Error('a soak user shares a routing tag with an anchor user; rename them');
    const expectedKeys = new Set([...anchorTags].map((tag) => tagKey(prefix, tag)));

    const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? '?';
    console.log(
      `soak: ${seconds} s, ${concurrency} calls in flight, ${LOAD.users} users (${LOAD.hotUsers} hot), ttl ${LOAD.ttlMin}-${LOAD.ttlMax} s, ` +
        `idleTimeout ${LOAD.idleMs / 1000} s, maxTokensPerUser ${CAP}; Redis ${version} (${server.external ? 'REDIS_URL' : 'throwaway'}), Node ${process.version}, ` +
        `load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores` +
        (globalThis.gc === undefined ? '; heap sampled without --expose-gc' : ''),
    );

    const started = performance.now();
    const endAt = started + seconds * 1000;
    const interval = Math.max(2, Math.round(seconds / 20)) * 1000;
    const samples: Sample[] = [];
    let running = true;
    const worker = async (): Promise<void> => {
      while (performance.now() < endAt) await workload.step();
    };
    const sampler = async (): Promise<void> => {
      let lastCalls = 0;
      let lastAt = performance.now();
      while (running) {
        await sleep(Math.min(interval, Math.max(0, endAt - performance.now())));
        if (!running) return;
        const now = performance.now();
        const keys = await keyCount(admin, server, prefix);
        const sample: Sample = {
          t: (now - started) / 1000,
          keys,
          expected: workload.liveUsers(Date.now()) + expectedKeys.size,
          largestHash: await largestHash(admin, prefix),
          usedMemory: await usedMemory(admin),
          heapUsed: heapUsed(),
          callsPerSec: ((workload.calls - lastCalls) * 1000) / (now - lastAt),
        };
        lastCalls = workload.calls;
        lastAt = now;
        samples.push(sample);
        console.log(
          `  t=${sample.t.toFixed(0).padStart(4)} s  keys ${String(sample.keys).padStart(6)} (expected ${String(sample.expected).padStart(6)})  ` +
            `largest hash ${String(sample.largestHash).padStart(3)}  used_memory ${mib(sample.usedMemory).padStart(6)} MiB  ` +
            `heap ${mib(sample.heapUsed).padStart(6)} MiB  ${sample.callsPerSec.toFixed(0).padStart(6)} calls/s`,
        );
        if (now >= endAt) return;
      }
    };
    const samplerDone = sampler();
    await Promise.all(Array.from({ length: concurrency }, worker));
    const loadEnded = performance.now();
    const loadSeconds = (loadEnded - started) / 1000;
    running = false;
    await samplerDone;

    // After the load: revoked tokens once more, then the anchors, then wait for expiry.
    const recheck = await workload.recheckRevoked();
    let anchorsAlive = 0;
    for (const key of anchorKeys) if ((await anchorRepository.authenticate(key)) !== null) anchorsAlive += 1;
    await sleep(Math.max(0, loadEnded + LONGEST_LIFE_MS + 500 - performance.now()));
    let keys = await keyCount(admin, server, prefix);
    while (keys !== expectedKeys.size && performance.now() - loadEnded < LONGEST_LIFE_MS + DRAIN_LIMIT_MS) {
      await sleep(250);
      keys = await keyCount(admin, server, prefix);
    }
    const drainedAfter = (performance.now() - loadEnded) / 1000;
    const left = await keysUnder(admin, prefix);
    const strays = left.filter((key) => !expectedKeys.has(key)).length;
    const missing = [...expectedKeys].filter((key) => !left.includes(key)).length;

    // The report.
    const { findings, coverage } = workload;
    const errorCount = [...findings.errors.values()].reduce((a, b) => a + b, 0);
    console.log(`\n### Calls (${loadSeconds.toFixed(1)} s of load)\n`);
    console.log(
      table(
        ['Call', 'Count', 'Per second', 'p50 ms', 'p99 ms', 'max ms'],
        OPERATIONS.map((op) => {
          const h = workload.latency.get(op)!;
          return [op, String(h.count), (h.count / loadSeconds).toFixed(0), (h.percentile(50) / 1e6).toFixed(2), (h.percentile(99) / 1e6).toFixed(2), (h.max / 1e6).toFixed(1)];
        }),
      ),
    );
    const afterWarmup = samples.filter((s) => s.t >= Math.min(10, seconds * 0.2));
    console.log(`\n### Samples every ${interval / 1000} s (growth checks use t ≥ ${Math.min(10, seconds * 0.2)} s)\n`);
    console.log(
      table(
        ['t (s)', 'Redis keys', 'hashes expected', 'largest hash (fields)', 'used_memory (MiB)', 'Node heap used (MiB)', 'calls/s'],
        samples.map((s) => [
          s.t.toFixed(0),
          String(s.keys),
          String(s.expected),
          String(s.largestHash),
          mib(s.usedMemory),
          mib(s.heapUsed),
          s.callsPerSec.toFixed(0),
        ]),
      ),
    );
    const checks: Check[] = [
      { name: 'revoked tokens that authenticated or were listed', value: String(findings.falseSuccess), limit: '0', pass: findings.falseSuccess === 0 },
      { name: 'made-up tokens that authenticated', value: String(findings.unknownAccepted), limit: '0', pass: findings.unknownAccepted === 0 },
      { name: 'tokens answered or listed under another user', value: String(findings.wrongUser), limit: '0', pass: findings.wrongUser === 0 },
      { name: 'tokens accepted after their absolute expiry', value: String(findings.expiredAccepted), limit: '0', pass: findings.expiredAccepted === 0 },
      { name: 'surely-live tokens refused or not listed', value: String(findings.liveRefused), limit: '0', pass: findings.liveRefused === 0 },
      { name: 'unexpected errors (rejections, touchFailed)', value: String(errorCount), limit: '0', pass: errorCount === 0 },
      { name: 'long-lived anchor tokens alive after the load', value: `${anchorsAlive} of ${anchorKeys.length}`, limit: `${anchorKeys.length}`, pass: anchorsAlive === anchorKeys.length },
      {
        name: 'keys left once every soak token had expired',
        value: `${left.length} (${strays} stray, ${missing} missing) after ${drainedAfter.toFixed(1)} s`,
        limit: `${expectedKeys.size}: the anchors' hashes`,
        pass: strays === 0 && missing === 0,
      },
      {
        name: 'largest hash, fields (the cap bounds it: every write sweeps dead fields)',
        value: String(Math.max(...samples.map((s) => s.largestHash))),
        limit: `≤ ${CAP}`,
        pass: samples.every((s) => s.largestHash <= CAP),
      },
      // Raw key counts follow the throughput, which a shared machine does not hold steady; keys
      // per expected hash do not, and grow only if hashes outlive their tokens.
      growthCheck('Redis keys per expected hash', afterWarmup, (s) => s.keys / s.expected, { factor: 1.25, slack: 0.05 }, (n) => n.toFixed(2)),
      growthCheck('Node heap used', afterWarmup, (s) => s.heapUsed, { factor: 1.15, slack: 2 * MiB }, (n) => `${mib(n)} MiB`),
    ];
    console.log('\n### Checks\n');
    console.log(table(['Check', 'Value', 'Limit', 'Result'], checks.map((c) => [c.name, c.value, c.limit, c.pass ? 'pass' : '**FAIL**'])));
    console.log(
      `\nJudged: ${coverage.revokedTried} authentications of revoked tokens during the load, ${recheck.tried} re-checked after it ` +
        `(${recheck.inLifetime} still within their lifetime), ${workload.revoked.total} revocations in all, ${coverage.evicted} evictions by the cap, ` +
        `${coverage.unknownTried} made-up tokens, ${coverage.liveJudged} surely-live tokens.`,
    );
    if (errorCount > 0) {
      console.log(`Errors: ${[...findings.errors].map(([kind, n]) => `${kind} × ${n}`).join(', ')}`);
      for (const line of workload.errorSamples) console.log(`  ${line}`);
    }
    const failed = checks.filter((c) => !c.pass).length;
    console.log(failed === 0 ? '\nsoak: every check passed' : `\nsoak: ${failed} check(s) failed`);
    return failed === 0 ? 0 : 1;
  } finally {
    await repository.close();
    await anchorRepository.close();
    if (server.external) {
      const keys = await keysUnder(admin, prefix);
      if (keys.length > 0) await admin.del(keys);
    }
    await client.close();
    await admin.close();
    await server.stop();
  }
}

process.exitCode = await main();
