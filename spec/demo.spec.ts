// `npm run demo` end to end: it starts its own redis-server, serves the API, and stops cleanly.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';

let demo: ChildProcess;
let base: string;
let output = '';

before(async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0' };
  delete env.REDIS_URL;
  demo = spawn(process.execPath, ['--import', 'tsx', 'demo/server.ts'], { cwd: new URL('..', import.meta.url), env });
  demo.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${output}`)), 20_000);
    demo.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /demo listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    demo.once('exit', (code) => reject(new Error(`the demo exited with ${String(code)}:\n${output}`)));
  });
});

after(() => {
  if (demo.exitCode === null) demo.kill('SIGKILL');
});

async function login(device: string): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': device },
    body: JSON.stringify({ username: 'ada', password: 'lovelace' }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

describe('the demo', () => {
  it('uses a throwaway redis-server when REDIS_URL is not set', () => {
    assert.match(output, /started a throwaway redis-server at redis:\/\/127\.0\.0\.1:\d+/);
  });

  it('logs in two devices, lists them, and logs one out', async () => {
    const phone = await login('phone');
    const laptop = await login('laptop');
    const auth = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

    const me = await fetch(`${base}/me`, auth(phone));
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { name: string } }).user.name, 'ada');

    const devices = (await (await fetch(`${base}/devices`, auth(phone))).json()) as { device: string; current: boolean }[];
    assert.deepEqual(devices.map((d) => [d.device, d.current]), [['laptop', false], ['phone', true]]);

    assert.equal((await fetch(`${base}/logout`, { method: 'POST', ...auth(phone) })).status, 204);
    assert.equal((await fetch(`${base}/me`, auth(phone))).status, 401);
    assert.equal((await fetch(`${base}/me`, auth(laptop))).status, 200);
  });

  it('refuses a wrong password', async () => {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'ada', password: 'wrong' }),
    });
    assert.equal(res.status, 401);
  });

  it('stops on SIGTERM', async () => {
    demo.kill('SIGTERM');
    const [code] = (await once(demo, 'exit')) as [number | null];
    assert.equal(code, 0);
  });
});
