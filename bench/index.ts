// `npm run bench`: passport-redis-multi-token against its peers, side by side.
//
//   npm run bench                       full run (about 5 minutes); rewrites BENCHMARKS.md's
//                                       results and bench/verification.svg
//   npm run bench -- --quick            about a minute; results go to .bench-out/ only
//   npm run bench -- --only=http,memory some sections (inprocess, malformed, http, growth, memory,
//                                       capacity)
//   npm run bench -- --only=capacity    the capacity constants alone: rewrites
//                                       capacity/constants.json and CAPACITY.md's generated part
//   npm run bench -- --report-only      re-render the report from .bench-out/latest.json
//
// Every section talks to a throwaway redis-server on a free loopback port, never to one
// already running, and stops it when done.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import { startRedisServer, type RedisServer } from '../spec/support/redis-server.js';
import { APP_KINDS } from './app-kinds.js';
import { cachingClient, contenderOps, plainClient, seedTokens } from './contenders.js';
import { benchGrowth } from './growth.js';
import { benchHttp } from './http.js';
import { commandsPerCall, interleave, type Contender } from './inprocess.js';
import { CAPACITY_FULL, CAPACITY_QUICK, constantsFile, measureCapacity, writeCapacityFiles, type CapacitySettings } from './capacity.js';
import { benchMemory } from './memory.js';
import { serverPid, serverVersion } from './redis-info.js';
import { renderChart, renderResults, spliceResults, type BenchResults, type Labelled, type Machine } from './report.js';
import type { RedisClientType } from 'redis';

const SECTIONS = ['inprocess', 'malformed', 'http', 'growth', 'memory', 'capacity'] as const;
type Section = (typeof SECTIONS)[number];
/** The sections BENCHMARKS.md reports; capacity writes capacity/constants.json and CAPACITY.md. */
const REPORT_SECTIONS = SECTIONS.filter((s) => s !== 'capacity');

const ROOT = new URL('../', import.meta.url);
const OUT = new URL('.bench-out/', ROOT);

interface Settings {
  inProcess: { rounds: number; durationMs: number; warmupMs: number };
  malformed: { rounds: number; durationMs: number; warmupMs: number };
  http: { rounds: number; durationSeconds: number; warmupSeconds: number; connections: number };
  growth: { sizes: number[]; rounds: number; createCalls: number; verifyMs: number };
  memory: { tokens: number };
  commandSamples: number;
  capacity: CapacitySettings;
}

const FULL: Settings = {
  // Many short rounds rather than a few long ones: on a shared machine the load changes from
  // second to second, and a ratio is only as good as the closeness in time of its two runs.
  inProcess: { rounds: 10, durationMs: 500, warmupMs: 500 },
  malformed: { rounds: 8, durationMs: 400, warmupMs: 300 },
  http: { rounds: 12, durationSeconds: 1, warmupSeconds: 1, connections: 64 },
  // One hash holds at most 500 tokens (HASH_MAX_FIELDS), and an uncapped create adds one.
  growth: { sizes: [1, 10, 100, 499], rounds: 3, createCalls: 100, verifyMs: 500 },
  memory: { tokens: 100_000 },
  commandSamples: 2000,
  capacity: CAPACITY_FULL,
};

const QUICK: Settings = {
  inProcess: { rounds: 4, durationMs: 250, warmupMs: 200 },
  malformed: { rounds: 3, durationMs: 250, warmupMs: 200 },
  http: { rounds: 3, durationSeconds: 1, warmupSeconds: 1, connections: 64 },
  growth: { sizes: [1, 10, 100, 499], rounds: 1, createCalls: 30, verifyMs: 250 },
  memory: { tokens: 20_000 },
  commandSamples: 500,
  capacity: CAPACITY_QUICK,
};

const IN_PROCESS: readonly Labelled[] = [
  { key: 'ours', label: 'ours' },
  { key: 'ours-csc', label: 'ours + client-side cache' },
  { key: 'bearer', label: 'passport-http-bearer + GET' },
  { key: 'jwt', label: 'passport-jwt HS256 (string secret)' },
  { key: 'jwt-key', label: 'passport-jwt HS256 (KeyObject)' },
  { key: 'raw', label: 'bare hGet (node-redis default: 5 s timer per command)' },
  { key: 'raw-notimer', label: 'bare hGet, no per-command timer' },
  { key: 'raw-csc', label: 'bare hGet, client-side cache (no timer)' },
  { key: 'sha-raw', label: 'SHA-256, then bare hGet (no timer)' },
  { key: 'minimal', label: 'minimal hashed-token strategy (Passport call, SHA-256, bare hGet)' },
  { key: 'minimal-csc', label: 'the same minimal strategy, client-side cache' },
];

const HTTP_APPS: readonly Labelled[] = [
  { key: 'none', label: 'Express, no auth' },
  { key: 'instant', label: 'a Passport strategy that succeeds at once' },
  { key: 'ours', label: 'ours' },
  { key: 'ours-csc', label: 'ours + client-side cache' },
  { key: 'bearer', label: 'passport-http-bearer + GET' },
  { key: 'jwt', label: 'passport-jwt HS256 (string secret)' },
  { key: 'jwt-key', label: 'passport-jwt HS256 (KeyObject)' },
];

const MALFORMED: readonly Labelled[] = [
  { key: 'ours-malformed', label: 'ours, bad checksum' },
  { key: 'ours-unknown', label: 'ours, well-formed but unknown' },
  { key: 'bearer-malformed', label: 'passport-http-bearer, same string' },
  { key: 'floor', label: 'the harness alone (a call that does nothing)' },
];

function log(line: string): void {
  console.log(line);
}

function usage(): never {
  console.log('usage: npm run bench [-- --quick] [--only=inprocess,malformed,http,growth,memory,capacity] [--report-only]');
  process.exit(0);
}

function parseArgs(argv: readonly string[]): { quick: boolean; sections: Section[]; reportOnly: boolean } {
  let quick = false;
  let reportOnly = false;
  let sections: Section[] = [...SECTIONS];
  for (const arg of argv) {
    if (arg === '--quick') quick = true;
    else if (arg === '--report-only') reportOnly = true;
    else if (arg === '--help' || arg === '-h') usage();
    else if (arg.startsWith('--only=')) {
      const asked = arg.slice('--only='.length).split(',').filter((name) => name !== '');
      const unknown = asked.filter((name) => !SECTIONS.includes(name as Section));
      if (unknown.length > 0) throw new Error(`unknown section: ${unknown.join(', ')} (known: ${SECTIONS.join(', ')})`);
      sections = asked as Section[];
    } else throw new Error(`unknown argument: ${arg}`);
  }
  return { quick, sections, reportOnly };
}

function packageVersion(name: string): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8'));
  const version = (manifest as { version?: unknown }).version;
  return typeof version === 'string' ? version : '?';
}

async function machine(admin: RedisClientType): Promise<Machine> {
  const names = ['redis', 'express', 'passport', 'passport-http-bearer', 'passport-jwt', 'jsonwebtoken', 'autocannon'];
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
    redisServer: await serverVersion(admin),
    packages: Object.fromEntries(names.map((name) => [name === 'redis' ? 'node-redis' : name, packageVersion(name)])),
    loadAverageAtStart: loadavg(),
  };
}

function pick(ops: Record<string, () => Promise<boolean>>, list: readonly Labelled[]): Contender[] {
  return list.map((c) => {
    const op = ops[c.key];
    if (op === undefined) throw new Error(`no operation for contender ${c.key}`);
    return { ...c, op };
  });
}

function writeReport(results: BenchResults, official: boolean): void {
  const generated = renderResults(results);
  const chart = renderChart(results);
  if (official) {
    const path = new URL('BENCHMARKS.md', ROOT);
    let document = '# Benchmarks\n';
    try {
      document = readFileSync(path, 'utf8');
    } catch {
      // first run: the hand-written parts are added around the markers later
    }
    writeFileSync(path, spliceResults(document, generated));
    writeFileSync(new URL('bench/verification.svg', ROOT), chart);
    log('wrote BENCHMARKS.md and bench/verification.svg');
  } else {
    writeFileSync(new URL(`BENCHMARKS.${results.mode}.md`, OUT), `# Benchmarks (${results.mode} run)\n\n${generated}\n`);
    writeFileSync(new URL(`verification.${results.mode}.svg`, OUT), chart);
    log(`wrote .bench-out/BENCHMARKS.${results.mode}.md and .bench-out/verification.${results.mode}.svg`);
  }
}

async function run(quick: boolean, sections: readonly Section[]): Promise<BenchResults> {
  const settings = quick ? QUICK : FULL;
  const started = Date.now();
  const clients: { close(): Promise<unknown> }[] = [];
  let server: RedisServer | undefined;
  try {
    server = await startRedisServer();
    const admin = await plainClient(server.url);
    const client = await plainClient(server.url);
    const csc = await cachingClient(server.url);
    clients.push(admin, client, csc);
    const results: BenchResults = {
      mode: quick ? 'quick' : 'full',
      startedAt: new Date(started).toISOString(),
      seconds: 0,
      machine: await machine(admin),
    };
    log(`redis-server ${results.machine.redisServer} on ${server.url}; ${results.machine.cpus} × ${results.machine.cpuModel}; load ${loadavg()[0]!.toFixed(2)}`);
    const tokens = await seedTokens(client);

    if (sections.includes('inprocess')) {
      log('verification in process');
      const contenders = pick(contenderOps(client, csc, tokens), IN_PROCESS);
      const { durationMs, warmupMs, rounds } = settings.inProcess;
      const runs = await interleave(contenders, { rounds, durationMs, warmupMs, concurrencies: [1, 64], log });
      const perCall = await commandsPerCall(admin, contenders, settings.commandSamples);
      const stats = csc.clientSideCache?.stats();
      results.inProcess = {
        rounds,
        durationMs,
        contenders: [...IN_PROCESS],
        runs,
        commandsPerCall: perCall,
        commandSamples: settings.commandSamples,
        cache: { hits: stats?.hitCount ?? 0, misses: stats?.missCount ?? 0 },
      };
    }
    if (sections.includes('malformed')) {
      log('malformed tokens');
      const contenders = pick(contenderOps(client, csc, tokens), MALFORMED);
      const { durationMs, warmupMs, rounds } = settings.malformed;
      const runs = await interleave(contenders, { rounds, durationMs, warmupMs, concurrencies: [1, 64], log });
      results.malformed = {
        rounds,
        durationMs,
        contenders: [...MALFORMED],
        runs,
        commandsPerCall: await commandsPerCall(admin, contenders, settings.commandSamples),
      };
    }
    if (sections.includes('http')) {
      log('HTTP end to end');
      const { rounds, durationSeconds, warmupSeconds, connections } = settings.http;
      const redisPid = await serverPid(admin);
      const { runs, pinned } = await benchHttp(server.url, tokens, { kinds: APP_KINDS, rounds, durationSeconds, warmupSeconds, connections, log, redisPid });
      results.http = { rounds, durationSeconds, connections, pinned, apps: [...HTTP_APPS], runs };
    }
    if (sections.includes('growth')) {
      log('cost against devices per user');
      const rows = await benchGrowth(client, { ...settings.growth, log });
      results.growth = { rounds: settings.growth.rounds, createCalls: settings.growth.createCalls, rows };
    }
    if (sections.includes('memory')) {
      log(`Redis memory per token at ${settings.memory.tokens} tokens (fresh servers)`);
      results.memory = await benchMemory(settings.memory.tokens, log);
    }
    if (sections.includes('capacity')) {
      log('capacity constants (Redis-side costs, memory, caching, cluster)');
      const capacityStarted = Date.now();
      const loadAtStart = loadavg();
      const measured = await measureCapacity(settings.capacity, log);
      const mode = quick ? 'quick' : 'full';
      const file = constantsFile(measured, {
        id: `bench-${mode}-${new Date(capacityStarted).toISOString().replace(/[:.]/g, '-')}`,
        command: `npm run bench -- ${[quick ? '--quick' : '', sections.length === SECTIONS.length ? '' : `--only=${sections.join(',')}`].filter((a) => a !== '').join(' ')}`.trim(),
        startedAt: new Date(capacityStarted).toISOString(),
        seconds: (Date.now() - capacityStarted) / 1000,
        loadAtStart,
        redis: results.machine.redisServer,
      });
      // The capacity part stands alone: a full run of it, alone or with the rest, is official.
      writeCapacityFiles(file, !quick, mode, log);
    }
    results.seconds = (Date.now() - started) / 1000;
    results.machine.loadAverageAtEnd = loadavg();
    return results;
  } finally {
    for (const client of clients) await client.close().catch(() => {});
    await server?.stop();
  }
}

async function main(): Promise<void> {
  const { quick, sections, reportOnly } = parseArgs(process.argv.slice(2));
  mkdirSync(OUT, { recursive: true });
  if (reportOnly) {
    const results = JSON.parse(readFileSync(new URL('latest.json', OUT), 'utf8')) as BenchResults;
    writeReport(results, results.mode === 'full' && REPORT_SECTIONS.every((s) => hasSection(results, s)));
    return;
  }
  const results = await run(quick, sections);
  const json = `${JSON.stringify(results, null, 2)}\n`;
  writeFileSync(new URL(`results-${results.startedAt.replace(/[:.]/g, '-')}.json`, OUT), json);
  writeFileSync(new URL('latest.json', OUT), json);
  log(`took ${Math.round(results.seconds)} s; raw results in .bench-out/latest.json`);
  if (REPORT_SECTIONS.some((s) => sections.includes(s))) {
    writeReport(results, !quick && REPORT_SECTIONS.every((s) => sections.includes(s)));
    console.log(`\n${renderResults(results)}`);
  }
}

function hasSection(results: BenchResults, section: Section): boolean {
  switch (section) {
    case 'inprocess':
      return results.inProcess !== undefined;
    case 'malformed':
      return results.malformed !== undefined;
    case 'http':
      return results.http !== undefined;
    case 'growth':
      return results.growth !== undefined;
    case 'memory':
      return results.memory !== undefined;
    case 'capacity':
      return true; // not part of the report
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
