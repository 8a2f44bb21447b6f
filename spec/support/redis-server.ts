// Throwaway redis-server processes for the specs: each on a free loopback port, with no
// persistence unless asked (AOF in the server's temp dir), killable and freezable for fault
// tests. The binary is `redis-server`, or SPEC_SERVER's path (the Valkey rows of the test
// matrix), or the one a spec names. With REDIS_URL set, `useRedis()` hands out that server
// instead. Neither possible: a clear error, never a silent skip.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** True when the server is REDIS_URL's, which the specs must not stop or freeze. */
  readonly external: boolean;
  /** SIGSTOP: the server holds connections open and answers nothing. */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
  /** kill -9, without waiting: the server dies with whatever it had not sent yet. */
  kill(): void;
  /** Starts it again on the same port, after `stop`. */
  restart(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** How a throwaway server is started. */
export interface ServerOptions {
  /** Path of the server binary. Default: SPEC_SERVER, else `redis-server` on PATH. */
  binary?: string;
  /** AOF on, with this fsync policy, in the server's own temp dir (kept across `restart`). */
  appendfsync?: 'always' | 'everysec' | 'no';
}

/** The binary the specs start: SPEC_SERVER when set (the Valkey rows), else Debian's redis-server. */
export function specServerBinary(): string {
  const path = process.env.SPEC_SERVER;
  return path === undefined || path === '' ? 'redis-server' : path;
}

/** VALKEY_SERVER's path, or undefined when unset (the Valkey rows are then skipped, loudly). */
export function valkeyServer(): string | undefined {
  const path = process.env.VALKEY_SERVER;
  return path === undefined || path === '' ? undefined : path;
}

/** The one line a Valkey-only spec prints, and skips with, when VALKEY_SERVER is unset. */
export const VALKEY_SKIP = 'VALKEY_SERVER is not set: the Valkey rows are skipped (set VALKEY_SERVER=/path/to/valkey-server)';

/** A loopback port nothing listens on, as of now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function launch(binary: string, port: number, args: string[], ready: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${binary} on port ${port} did not start within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes(ready)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        err.code === 'ENOENT'
          ? new Error(`${binary} is not installed: install redis-server (apt-get install redis-server), set REDIS_URL, or fix SPEC_SERVER / VALKEY_SERVER`)
          : err,
      );
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${binary} exited with code ${String(code)} before it was ready:\n${output}`));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts a throwaway redis-server (or `options.binary`) of the specs' own. */
export function startRedisServer(extra: string[] = [], options: ServerOptions = {}): Promise<RedisServer> {
  const aof = options.appendfsync === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', options.appendfsync];
  return startProcess(
    options.binary ?? specServerBinary(),
    (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...aof, '--dir', dir, ...extra],
    'Ready to accept connections',
  );
}

/**
 * Starts a throwaway Sentinel watching `master` under the name `mymaster`. With `fast`, it
 * declares the master down after half a second and fails over at once, for failover specs.
 */
export function startRedisSentinel(master: RedisServer, options: { fast?: boolean; binary?: string } = {}): Promise<RedisServer> {
  return startProcess(options.binary ?? specServerBinary(), (port, dir) => {
    const config = join(dir, 'sentinel.conf');
    const lines = [`sentinel monitor mymaster 127.0.0.1 ${master.port} 1`];
    if (options.fast === true) {
      lines.push('sentinel down-after-milliseconds mymaster 500', 'sentinel failover-timeout mymaster 3000', 'sentinel parallel-syncs mymaster 1');
    }
    writeFileSync(config, `${lines.join('\n')}\n`);
    return [config, '--sentinel', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  }, '+monitor master mymaster');
}

async function startProcess(binary: string, argsFor: (port: number, dir: string) => string[], ready: string): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rmt-redis-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = argsFor(port, dir);
    let child: ChildProcess;
    try {
      child = await launch(binary, port, args, ready);
    } catch (err) {
      lastError = err;
      if (err instanceof Error && err.message.includes('not installed')) throw err;
      continue; // the port was taken between probe and launch
    }
    let current = child;
    const server: RedisServer = {
      url: `redis://127.0.0.1:${port}`,
      port,
      external: false,
      freeze: () => current.kill('SIGSTOP'),
      thaw: () => current.kill('SIGCONT'),
      kill: () => {
        current.kill('SIGKILL');
      },
      async stop() {
        current.kill('SIGCONT');
        current.kill('SIGKILL');
        await exited(current);
      },
      async restart() {
        current = await launch(binary, port, args, ready);
      },
    };
    process.once('exit', () => {
      current.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    return server;
  }
  throw lastError instanceof Error ? lastError : new Error('could not start redis-server');
}

/** REDIS_URL's server when set, else a throwaway one. */
export async function useRedis(): Promise<RedisServer> {
  const url = process.env.REDIS_URL;
  if (url === undefined || url === '') return startRedisServer();
  const refuse = (what: string) => (): never => {
    throw new Error(`${what} needs a server of the specs' own; use startRedisServer()`);
  };
  return {
    url,
    port: Number(new URL(url).port || 6379),
    external: true,
    freeze: refuse('freeze'),
    thaw: refuse('thaw'),
    stop: async () => {},
    kill: refuse('kill'),
    restart: refuse('restart'),
  };
}

let counter = 0;
/** A key prefix no other test uses, so specs can share one server. */
export function uniquePrefix(label: string): string {
  counter += 1;
  return `spec:${process.pid}:${label}:${counter}:`;
}
