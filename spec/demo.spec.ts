// `npm run demo` end to end: it starts its own redis-server, serves the API and the devices page,
// and stops cleanly.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startDemo, type DemoProcess } from './support/demo-process.js';

let demo: DemoProcess;
let base: string;

before(async () => {
  demo = await startDemo();
  base = demo.url;
});

after(async () => {
  await demo.stop();
});

async function login(device: string, body: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': device },
    body: JSON.stringify({ username: 'ada', password: 'lovelace', ...body }),
  });
}

async function tokenOf(res: Response): Promise<string> {
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

const auth = (token: string): RequestInit => ({ headers: { authorization: `Bearer ${token}` } });

describe('the demo', () => {
  it('uses a throwaway redis-server when REDIS_URL is not set', () => {
    assert.match(demo.output(), /started a throwaway redis-server at redis:\/\/127\.0\.0\.1:\d+/);
  });

  it('serves the devices page at / with its script and style, under a strict Content-Security-Policy', async () => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<form id="signin-form">/);
    assert.match(html, /<script src="devices\.js" defer><\/script>/);

    const script = await fetch(`${base}/devices.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    const style = await fetch(`${base}/style.css`);
    assert.equal(style.status, 200);
    assert.match(style.headers.get('content-type') ?? '', /^text\/css/);
  });

  it('logs in two devices, lists them, and logs one out', async () => {
    const phone = await tokenOf(await login('phone'));
    const laptop = await tokenOf(await login('laptop'));

    const me = await fetch(`${base}/me`, auth(phone));
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { user: { name: string } }).user.name, 'ada');

    const devices = (await (await fetch(`${base}/devices`, auth(phone))).json()) as { device: string; current: boolean }[];
    assert.deepEqual(devices.map((d) => [d.device, d.current]), [['laptop', false], ['phone', true]]);

    assert.equal((await fetch(`${base}/logout`, { method: 'POST', ...auth(phone) })).status, 204);
    assert.equal((await fetch(`${base}/me`, auth(phone))).status, 401);
    assert.equal((await fetch(`${base}/me`, auth(laptop))).status, 200);
  });

  it('labels a device with the name sent at login, else with the User-Agent', async () => {
    const named = await tokenOf(await login('Mozilla/5.0 tablet', { device: '  Kitchen tablet  ' }));
    const unnamed = await tokenOf(await login('Mozilla/5.0 desktop', { device: '' }));
    const devices = (await (await fetch(`${base}/devices`, auth(named))).json()) as { device: string; current: boolean }[];
    assert.deepEqual(devices.slice(0, 2).map((d) => [d.device, d.current]), [['Mozilla/5.0 desktop', false], ['Kitchen tablet', true]]);
    assert.equal((await fetch(`${base}/logout`, { method: 'POST', ...auth(unnamed) })).status, 204);
  });

  it('refuses a device name that is not a string with 400, and shows control characters as spaces', async () => {
    assert.equal((await login('phone', { device: 42 })).status, 400);
    const token = await tokenOf(await login('phone', { device: 'odd\u0007name' }));
    const devices = (await (await fetch(`${base}/devices`, auth(token))).json()) as { device: string; current: boolean }[];
    assert.equal(devices.find((d) => d.current)?.device, 'odd name');
  });

  it('revokes another device by id, then logs out everywhere else, then everywhere', async () => {
    const first = await tokenOf(await login('first'));
    // Devices left by the tests above are not this test's business.
    assert.equal((await fetch(`${base}/logout-others`, { method: 'POST', ...auth(first) })).status, 200);
    const second = await tokenOf(await login('second'));
    const third = await tokenOf(await login('third'));
    const devices = (await (await fetch(`${base}/devices`, auth(first))).json()) as { id: string; device: string }[];
    const secondId = devices.find((d) => d.device === 'second')!.id;

    assert.equal((await fetch(`${base}/devices/${secondId}`, { method: 'DELETE', ...auth(first) })).status, 204);
    assert.equal((await fetch(`${base}/devices/${secondId}`, { method: 'DELETE', ...auth(first) })).status, 404);
    const refused = await fetch(`${base}/devices`, auth(second));
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    const others = await fetch(`${base}/logout-others`, { method: 'POST', ...auth(first) });
    assert.equal(others.status, 200);
    assert.deepEqual(await others.json(), { removed: 1 });
    assert.equal((await fetch(`${base}/me`, auth(third))).status, 401);
    assert.equal((await fetch(`${base}/me`, auth(first))).status, 200);

    const all = await fetch(`${base}/logout-all`, { method: 'POST', ...auth(first) });
    assert.deepEqual(await all.json(), { removed: 1 });
    assert.equal((await fetch(`${base}/me`, auth(first))).status, 401);
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
    assert.equal(await demo.stop(), 0);
  });
});
