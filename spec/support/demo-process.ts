// `npm run demo` as a child process, on a free port and its own throwaway redis-server, for the
// specs that drive the demo from outside: over HTTP, or through a real browser.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const START_TIMEOUT_MS = 20_000;

export interface DemoProcess {
  /** The demo's base URL, such as `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the demo printed so far, stdout and stderr. */
  output(): string;
  /**
   * Sends SIGTERM, which lets the demo stop its redis-server too, and resolves with the exit
   * code once the process is gone; SIGKILL if it is still there after 10 s.
   */
  stop(): Promise<number | null>;
}

/** Starts demo/server.ts the way `npm run demo` does, with REDIS_URL unset and PORT=0. */
export async function startDemo(): Promise<DemoProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  delete env.REDIS_URL;
  const child = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], { cwd: new URL('../..', import.meta.url), env });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not start within ${START_TIMEOUT_MS} ms:\n${output}`));
    }, START_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /demo listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${String(code)}:\n${output}`));
    });
  });
  process.once('exit', () => child.kill('SIGKILL'));
  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const [code] = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
