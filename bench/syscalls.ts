// What one HTTP request costs an app process: CPU time (from /proc, no tracer attached) and
// system calls (strace -c -f attached to the app), per request, for each app kind.
//   node --import tsx bench/syscalls.ts [kinds=ours,ours-csc] [requests=20000] [--rounds=3] [--no-strace] [--cpu-prof]
// Needs strace on the PATH for the system-call counts (apt-get install strace). Each app runs
// in its own process on loopback, loaded by autocannon with 64 connections from this process.
// --cpu-prof also writes each app's CPU profile to .bench-out/profiles/http-<kind>/, for
// bench/profile-summary.ts.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startRedisServer } from '../spec/support/redis-server.js';
import { APP_KINDS, type AppKind } from './app-kinds.js';
import { plainClient, seedTokens, type Tokens } from './contenders.js';
import { startApp, stopApp, tokenFor, type RunningApp } from './http.js';
import { rotate } from './inprocess.js';
import { median } from './measure.js';

const CONNECTIONS = 64;
const TICKS_PER_SECOND = 100;

/** User and system CPU time of a process so far, in µs, from /proc/<pid>/stat (threads included). */
function cpuMicros(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5), counted from the state (field 3) after the command name.
  return { user: (Number(fields[11]) * 1e6) / TICKS_PER_SECOND, system: (Number(fields[12]) * 1e6) / TICKS_PER_SECOND };
}

/** Context switches of a process so far, all its threads together, from /proc/<pid>/task/<tid>/status. */
function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // a thread that ended meanwhile
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(status)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

/** What one app and the load generator (this process) spent per request during one load. */
interface PerRequest {
  rate: number;
  appUser: number;
  appSystem: number;
  appWakeups: number;
  appPreempted: number;
  loaderCpu: number;
  loaderWakeups: number;
}

async function measured(app: RunningApp, tokens: Tokens, amount: number): Promise<PerRequest> {
  const pid = app.child.pid!;
  const cpu0 = cpuMicros(pid);
  const cs0 = contextSwitches(pid);
  const own0 = process.cpuUsage();
  const ownCs0 = contextSwitches(process.pid);
  const rate = await load(app, tokens, amount);
  const cpu1 = cpuMicros(pid);
  const cs1 = contextSwitches(pid);
  const own = process.cpuUsage(own0);
  const ownCs1 = contextSwitches(process.pid);
  return {
    rate,
    appUser: (cpu1.user - cpu0.user) / amount,
    appSystem: (cpu1.system - cpu0.system) / amount,
    appWakeups: (cs1.voluntary - cs0.voluntary) / amount,
    appPreempted: (cs1.involuntary - cs0.involuntary) / amount,
    loaderCpu: (own.user + own.system) / amount,
    loaderWakeups: (ownCs1.voluntary - ownCs0.voluntary) / amount,
  };
}

async function load(app: RunningApp, tokens: Tokens, amount: number): Promise<number> {
  const token = tokenFor(app.kind, tokens);
  const result = await autocannon({
    url: `http://127.0.0.1:${app.port}/me`,
    connections: CONNECTIONS,
    amount,
    // A shared machine can stall a process for seconds; only a request lost for good should fail.
    timeout: 30,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${app.kind}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return result.requests.total / result.duration;
}

/** strace -c's summary table as calls per syscall name. */
function parseStraceSummary(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    // % time     seconds  usecs/call     calls    errors syscall
    const match = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (match !== null && match[2] !== 'total') out.set(match[2]!, Number(match[1]));
  }
  return out;
}

async function straced(app: RunningApp, tokens: Tokens, amount: number): Promise<Map<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-strace-'));
  const file = join(dir, 'summary.txt');
  try {
    const tracer = spawn('strace', ['-c', '-f', '-o', file, '-p', String(app.child.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    tracer.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<string>((resolve, reject) => {
      tracer.once('error', reject);
      tracer.once('exit', (code, signal) => resolve(signal ?? String(code)));
    });
    // strace reports each thread it attaches to; give it a moment to reach all of them.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await load(app, tokens, amount);
    tracer.kill('SIGINT');
    // strace detaches, writes its summary and ends by the signal it was sent.
    const how = await exited;
    if (how !== '0' && how !== 'SIGINT') throw new Error(`strace exited with ${how}: ${stderr}`);
    return parseStraceSummary(readFileSync(file, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Ends an app through its IPC channel, so that it exits by itself and --cpu-prof writes its profile. */
function endApp(app: RunningApp): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    app.child.once('exit', () => resolve());
    app.child.disconnect();
  });
}

async function main(): Promise<void> {
  const flags = process.argv.slice(2).filter((arg) => arg.startsWith('--'));
  const [kindsArg = 'ours,ours-csc', amountArg = '20000'] = process.argv.slice(2).filter((arg) => !arg.startsWith('--'));
  const traced = !flags.includes('--no-strace');
  const rounds = Number(flags.find((f) => f.startsWith('--rounds='))?.slice('--rounds='.length) ?? 3);
  const profiled = flags.includes('--cpu-prof');
  const kinds = kindsArg.split(',') as AppKind[];
  for (const kind of kinds) if (!APP_KINDS.includes(kind)) throw new Error(`unknown app ${kind}; known: ${APP_KINDS.join(', ')}`);
  const amount = Number(amountArg);
  const server = await startRedisServer();
  const client = await plainClient(server.url);
  const apps: RunningApp[] = [];
  try {
    const tokens = await seedTokens(client);
    for (const kind of kinds) {
      const dir = fileURLToPath(new URL(`../.bench-out/profiles/http-${kind}/`, import.meta.url));
      apps.push(await startApp(kind, server.url, profiled ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []));
    }
    for (const app of apps) await load(app, tokens, amount / 2);
    const rows: string[] = [];
    const counts = new Map<string, Map<string, number>>();
    const samples = new Map<string, PerRequest[]>(apps.map((app) => [app.kind, []]));
    for (let round = 0; round < rounds; round++) {
      for (const app of rotate(apps, round)) samples.get(app.kind)!.push(await measured(app, tokens, amount));
    }
    for (const app of apps) {
      const list = samples.get(app.kind)!;
      const m = (pick: (s: PerRequest) => number): string => {
        const value = median(list.map(pick));
        return (value >= 100 ? value.toFixed(0) : value.toFixed(2)).padStart(8);
      };
      rows.push(
        `${app.kind.padEnd(10)}${m((s) => s.rate)}${m((s) => s.appUser)}${m((s) => s.appSystem)}${m((s) => s.appWakeups)}${m((s) => s.appPreempted)}${m((s) => s.loaderCpu)}${m((s) => s.loaderWakeups)}`,
      );
    }
    for (const app of apps) if (traced) counts.set(app.kind, await straced(app, tokens, amount));
    console.log(`${amount} requests per app and round, ${rounds} interleaved rounds, ${CONNECTIONS} connections; medians per request\n`);
    console.log(`${'app'.padEnd(10)}${['req/s', 'user µs', 'sys µs', 'sleeps', 'preempt', 'load µs', 'load sl.'].map((h) => h.padStart(8)).join('')}`);
    console.log(rows.join('\n'));
    console.log('\n(user/sys µs: app CPU; sleeps/preempt: app voluntary/involuntary context switches; load µs, load sl.: the same for autocannon in this process)');
    if (!traced) return;
    const names = [...new Set([...counts.values()].flatMap((m) => [...m.keys()]))];
    const total = (kind: string): number => [...counts.get(kind)!.values()].reduce((a, b) => a + b, 0);
    names.sort((a, b) => Math.max(...kinds.map((k) => counts.get(k)!.get(b) ?? 0)) - Math.max(...kinds.map((k) => counts.get(k)!.get(a) ?? 0)));
    console.log(`\nsystem calls per request (strace -c -f on the app process)\n`);
    console.log(`${'syscall'.padEnd(16)}${kinds.map((k) => k.padStart(10)).join('')}`);
    for (const name of names.filter((n) => kinds.some((k) => (counts.get(k)!.get(n) ?? 0) / amount >= 0.005))) {
      console.log(`${name.padEnd(16)}${kinds.map((k) => ((counts.get(k)!.get(name) ?? 0) / amount).toFixed(2).padStart(10)).join('')}`);
    }
    console.log(`${'total'.padEnd(16)}${kinds.map((k) => (total(k) / amount).toFixed(2).padStart(10)).join('')}`);
  } finally {
    await Promise.all(apps.map(profiled ? endApp : stopApp));
    await client.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
