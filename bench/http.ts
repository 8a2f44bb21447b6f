// HTTP end to end: each Express app in its own process on loopback, loaded by autocannon from
// this process in interleaved rounds. Every response must be a 200, or the run stops.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { AppKind, AppReady } from './app-kinds.js';
import type { Tokens } from './contenders.js';
import { rotate } from './inprocess.js';

const APP_START_TIMEOUT_MS = 60_000;

export interface HttpOptions {
  kinds: readonly AppKind[];
  /** The Redis server's process id: pinned beside the load generator, away from the app. */
  redisPid: number;
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
  log: (line: string) => void;
}

/** One autocannon run. Latencies in ms. */
export interface HttpRun {
  requestsPerSec: number;
  p50: number;
  p99: number;
}

/** An app process of the HTTP benchmark, listening on `port`. */
export interface RunningApp {
  kind: AppKind;
  port: number;
  child: ChildProcess;
}

function isReady(message: unknown): message is AppReady {
  return message !== null && typeof message === 'object' && typeof (message as Record<string, unknown>).port === 'number';
}

/** Starts one app in a process of its own; `nodeFlags` go before the app (such as `--cpu-prof`). */
export function startApp(kind: AppKind, redisUrl: string, nodeFlags: readonly string[] = []): Promise<RunningApp> {
  const child = fork(fileURLToPath(new URL('./app.ts', import.meta.url)), [kind, redisUrl], {
    execArgv: [...nodeFlags, '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${kind} app did not start within ${APP_START_TIMEOUT_MS} ms`));
    }, APP_START_TIMEOUT_MS);
    child.once('message', (message: unknown) => {
      clearTimeout(timer);
      if (isReady(message)) resolve({ kind, port: message.port, child });
      else reject(new Error(`the ${kind} app sent an unexpected message`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${kind} app exited with code ${String(code)} before it listened`));
    });
  });
}

/** Stops an app and waits for its process to exit. */
export function stopApp(app: RunningApp): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    app.child.once('exit', () => resolve());
    app.child.kill('SIGTERM');
  });
}

/** The token an app's requests carry, if any. */
export function tokenFor(kind: AppKind, tokens: Tokens): string | undefined {
  switch (kind) {
    case 'none':
      return undefined;
    // The instant strategy reads nothing, but gets the same header as ours: the same bytes to parse.
    case 'instant':
    case 'ours':
    case 'ours-csc':
      return tokens.ours;
    case 'bearer':
      return tokens.bearer;
    case 'jwt':
    case 'jwt-key':
      return tokens.jwt;
  }
}

async function load(app: RunningApp, tokens: Tokens, connections: number, seconds: number): Promise<HttpRun> {
  const token = tokenFor(app.kind, tokens);
  const result = await autocannon({
    url: `http://127.0.0.1:${app.port}/me`,
    connections,
    duration: seconds,
    // A shared machine can stall a process for seconds; only a request lost for good should fail.
    timeout: 30,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${app.kind}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { requestsPerSec: result.requests.total / result.duration, p50: result.latency.p50, p99: result.latency.p99 };
}

/** Pins every thread of `pid` to the CPUs `cpus` (taskset's list form); false when it cannot. */
function pin(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What {@link benchHttp} measured, and whether the app had a core to itself. */
export interface HttpResults {
  runs: Record<string, HttpRun[]>;
  /** True when each app ran pinned to CPU 0, and the load generator and Redis to CPU 1. */
  pinned: boolean;
}

/**
 * Runs every app `rounds` times, interleaved and rotated; returns each app's runs in round
 * order. With two cores or more, the app under load gets CPU 0 to itself, and this process
 * (autocannon) and redis-server share CPU 1, as if the clients and Redis were elsewhere: the
 * app's own CPU per request then sets its throughput, which is what the ratios compare. They
 * are unpinned again at the end.
 */
export async function benchHttp(redisUrl: string, tokens: Tokens, options: HttpOptions): Promise<HttpResults> {
  const { kinds, rounds, durationSeconds, warmupSeconds, connections, log, redisPid } = options;
  const apps: RunningApp[] = [];
  const cores = availableParallelism();
  const all = `0-${cores - 1}`;
  let pinned = false;
  try {
    const started = await Promise.allSettled(kinds.map((kind) => startApp(kind, redisUrl)));
    for (const outcome of started) if (outcome.status === 'fulfilled') apps.push(outcome.value);
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    if (cores >= 2) {
      pinned = [process.pid, redisPid].every((pid) => pin(pid, '1')) && apps.every((app) => app.child.pid !== undefined && pin(app.child.pid, '0'));
      log(pinned ? '  apps pinned to CPU 0; autocannon and redis-server to CPU 1' : '  could not pin (taskset failed): apps, autocannon and redis-server share every core');
    }
    for (const app of apps) await load(app, tokens, connections, warmupSeconds);
    const runs: Record<string, HttpRun[]> = Object.fromEntries(kinds.map((kind) => [kind, [] as HttpRun[]]));
    for (let round = 1; round <= rounds; round++) {
      const line: string[] = [];
      for (const app of rotate(apps, round - 1)) {
        const run = await load(app, tokens, connections, durationSeconds);
        runs[app.kind]!.push(run);
        line.push(`${app.kind} ${Math.round(run.requestsPerSec)}`);
      }
      log(`  round ${round}/${rounds}: ${line.sort().join(', ')} req/s`);
    }
    return { runs, pinned };
  } finally {
    if (cores >= 2) for (const pid of [process.pid, redisPid]) pin(pid, all);
    await Promise.all(apps.map(stopApp));
  }
}
