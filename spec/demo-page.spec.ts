// The demo's devices page in real headless Chromium: two browser contexts are two devices of
// one user. The browser is CHROMIUM_PATH when set, else Debian's /usr/bin/chromium when
// installed, else the Chromium shipped in the npm package @sparticuz/chromium, so `npm ci` is
// enough; playwright-core only drives it and never downloads a browser. When no browser
// starts this spec fails, never skips.
import assert from 'node:assert/strict';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import npmChromium from '@sparticuz/chromium';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemo, type DemoProcess } from './support/demo-process.js';

const DEBIAN_CHROMIUM = '/usr/bin/chromium';
const NPM_ORIGIN = 'the npm package @sparticuz/chromium';
// Playwright gives each launch a fresh, empty --user-data-dir of its own (and refuses one in
// `args`). Without the background-networking flags Chromium keeps calling hosts that a closed
// network refuses.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** An HTTP exchange of the page with the demo API, as `METHOD /path STATUS`. */
type Call = string;

interface Device {
  readonly page: Page;
  /** The page's calls to the API since the last `act`. */
  readonly calls: Call[];
  /** The `WWW-Authenticate` challenge of each 401 among them. */
  readonly challenges: string[];
}

let demo: DemoProcess;
let browser: Browser | undefined;
/** The folder the npm package's Chromium was unpacked into, removed after the spec. */
let unpacked: string | undefined;
/** Which Chromium the spec launched, for the test's diagnostics. */
let launched: ChromiumBinary | undefined;

/** A Chromium binary and where it came from, for the messages. */
interface ChromiumBinary {
  readonly path: string;
  readonly origin: string;
}

/** Whether `path` is a regular file this process may run (a /dev/null mounted over it is not). */
function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** CHROMIUM_PATH, else Debian's Chromium, else the one in @sparticuz/chromium, unpacked. */
async function findChromium(): Promise<ChromiumBinary> {
  const chosen = process.env.CHROMIUM_PATH;
  if (chosen !== undefined && chosen !== '') {
    if (!isExecutableFile(chosen)) throw new Error(`CHROMIUM_PATH is ${chosen}, which is not an executable file`);
    return { path: chosen, origin: 'CHROMIUM_PATH' };
  }
  if (isExecutableFile(DEBIAN_CHROMIUM)) return { path: DEBIAN_CHROMIUM, origin: "Debian's chromium" };
  // The package unpacks into os.tmpdir() and launches whatever it finds there already, such as
  // a half-written /tmp/chromium or another version's: a folder of this run's own avoids both.
  unpacked = await mkdtemp(join(tmpdir(), 'rmt-chromium-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = unpacked;
  try {
    return { path: await npmChromium.executablePath(), origin: NPM_ORIGIN };
  } catch (err) {
    throw new Error(`could not unpack the Chromium of @sparticuz/chromium into ${unpacked} (run npm ci, or set CHROMIUM_PATH)`, { cause: err });
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
}

/** Chromium driven by playwright-core; a clear failure when none can be found or started. */
async function launchChromium(): Promise<Browser> {
  const binary = await findChromium();
  try {
    const started = await chromium.launch({ executablePath: binary.path, args: CHROMIUM_ARGS, headless: true });
    launched = binary;
    return started;
  } catch (err) {
    // The test report shows the message only, not the cause: carry what the browser printed,
    // such as "error while loading shared libraries: libnss3.so".
    const message = err instanceof Error ? err.message : String(err);
    const printed = (message.split('Call log:')[0] ?? '').split('\n').filter((line) => line.includes('[err]'));
    const reason = printed.length > 0 ? printed.slice(0, 5).join('; ') : message.split('\n')[0];
    const hint = binary.origin === NPM_ORIGIN ? ' (it needs libnss3 and libexpat1: apt-get install libnss3 libexpat1)' : '';
    throw new Error(`Chromium from ${binary.origin} (${binary.path}) did not start: ${reason}${hint}`, { cause: err });
  }
}

before(async () => {
  demo = await startDemo();
});

after(async () => {
  await browser?.close();
  await demo.stop();
  if (unpacked !== undefined) await rm(unpacked, { recursive: true, force: true });
});

/** A new browser context (its own sessionStorage and cookies: another device) on the page. */
async function openDevice(): Promise<Device> {
  browser ??= await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  // Generous: a shared 2-core machine under load can be slow; a wait that times out still fails.
  context.setDefaultTimeout(30_000);
  // Only the demo on loopback: anything else the page asked for would be a bug.
  await context.route(/.*/, (route) => (route.request().url().startsWith(`${demo.url}/`) ? route.continue() : route.abort()));
  const page = await context.newPage();
  const device: Device = { page, calls: [], challenges: [] };
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'fetch') return;
    const { pathname } = new URL(response.url());
    device.calls.push(`${response.request().method()} ${pathname} ${response.status()}`);
    if (response.status() === 401) device.challenges.push(response.headers()['www-authenticate'] ?? '');
  });
  await page.goto(`${demo.url}/`);
  await idle(page);
  return device;
}

/** Waits until the page has finished its current action and redrawn. */
async function idle(page: Page): Promise<void> {
  await page.locator('main[aria-busy="false"]').waitFor();
}

/** Does one user action on a device and returns the API calls it made. */
async function act(device: Device, action: (page: Page) => Promise<void>): Promise<Call[]> {
  device.calls.length = 0;
  device.challenges.length = 0;
  await action(device.page);
  await idle(device.page);
  return [...device.calls];
}

function signIn(device: Device, deviceName: string): Promise<Call[]> {
  return act(device, async (page) => {
    await page.getByLabel('User', { exact: true }).selectOption('ada');
    await page.getByLabel('Password').fill('lovelace');
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Sign in' }).click();
  });
}

function click(device: Device, name: string): Promise<Call[]> {
  return act(device, (page) => page.getByRole('button', { name, exact: true }).click());
}

/** The device list as a person reads it: each label, with the "this device" mark. */
async function devicesShown(page: Page): Promise<string[]> {
  const shown: string[] = [];
  for (const row of await page.locator('#devices tbody tr').all()) {
    const label = await row.locator('.device-label').textContent();
    const mark = (await row.getByText('this device', { exact: true }).count()) === 1 ? ' (this device)' : '';
    shown.push(`${label ?? ''}${mark}`);
  }
  return shown;
}

async function statusShown(page: Page): Promise<string> {
  return (await page.locator('#status').textContent()) ?? '';
}

/** Whether the page shows itself signed out, and holds no token any more. */
async function signedOut(page: Page): Promise<boolean> {
  const form = await page.locator('#signin').isVisible();
  const account = await page.locator('#account').isVisible();
  // A string, since the specs are compiled without the DOM's types.
  const stored: unknown = await page.evaluate('window.sessionStorage.length');
  return form && !account && stored === 0;
}

// A device label is typed by the user: the page must show it as text, never run it as HTML.
const LAPTOP = `Ada's laptop <img src=x onerror="document.title='pwned'">`;
const PHONE = 'Phone';

describe('the demo devices page, on two devices of one user', () => {
  it("signs in, lists both devices, rotates this device's token, revokes one, and logs out everywhere else and everywhere", async (t) => {
    const laptop = await openDevice();
    const phone = await openDevice();
    t.diagnostic(`Chromium ${browser?.version() ?? '?'} from ${launched?.origin ?? '?'}`);
    assert.equal(await signedOut(laptop.page), true);
    assert.match(await statusShown(laptop.page), /Signed out\. Sign in to see your devices\./);

    // Sign in on both.
    assert.deepEqual(await signIn(laptop, LAPTOP), ['POST /login 200', 'GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`]);
    assert.match(await statusShown(laptop.page), /Signed in as ada\. No other device is signed in\./);
    assert.deepEqual(await signIn(phone, PHONE), ['POST /login 200', 'GET /devices 200']);
    assert.deepEqual(await devicesShown(phone.page), [`${PHONE} (this device)`, LAPTOP]);
    assert.match(await statusShown(phone.page), /beside your other devices/);

    assert.deepEqual(await click(laptop, 'Refresh'), ['GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [PHONE, `${LAPTOP} (this device)`]);
    assert.match(await statusShown(laptop.page), /^2 devices signed in as ada\.$/);

    // Rotate the laptop's token: still one row per device, with the new token's id; the old
    // token still works in its grace, and the page goes on with the new one.
    const oldToken: unknown = await laptop.page.evaluate("window.sessionStorage.getItem('rmt-demo-token')");
    const oldRowId = await laptop.page.locator('#devices tbody tr.current').getAttribute('data-id');
    assert.deepEqual(await click(laptop, "Rotate this device's token"), ['POST /rotate 200', 'GET /devices 200']);
    assert.match(await statusShown(laptop.page), /Rotated this device's token\. The old one works for 30 more seconds/);
    // The laptop's token is now the newest.
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`, PHONE]);
    const newToken: unknown = await laptop.page.evaluate("window.sessionStorage.getItem('rmt-demo-token')");
    assert.equal(typeof oldToken, 'string');
    assert.equal(typeof newToken, 'string');
    assert.notEqual(newToken, oldToken);
    const newRowId = await laptop.page.locator('#devices tbody tr.current').getAttribute('data-id');
    assert.notEqual(newRowId, oldRowId, 'the row shows the new token');
    const inGrace = await fetch(`${demo.url}/me`, { headers: { authorization: `Bearer ${String(oldToken)}` } });
    assert.equal(inGrace.status, 200);
    assert.deepEqual(await click(laptop, 'Refresh'), ['GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`, PHONE]);
    assert.equal(await laptop.page.locator('#devices img').count(), 0, 'a device label was put into the page as HTML');
    assert.equal(await laptop.page.getByText('Signed in as ada', { exact: true }).isVisible(), true);
    assert.deepEqual(await laptop.page.context().cookies(), [], 'the token must never be in a cookie');
    const screenshot = join(tmpdir(), `rmt-demo-devices-${process.pid}.png`);
    await laptop.page.screenshot({ path: screenshot, fullPage: true });
    t.diagnostic(`screenshot of the devices page: ${screenshot}`);

    // Revoke the phone from the laptop: the phone's next request is refused.
    const revoke = await act(laptop, (page) => page.getByRole('button', { name: `Revoke ${PHONE}` }).click());
    assert.deepEqual(revoke.map((call) => call.replace(/\/devices\/[\w-]+ /, '/devices/:id ')), ['DELETE /devices/:id 204', 'GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`]);
    assert.match(await statusShown(laptop.page), /Revoked “Phone”/);

    assert.deepEqual(await click(phone, 'Refresh'), ['GET /devices 401']);
    assert.match(phone.challenges[0] ?? '', /^Bearer realm="Users", error="invalid_token"/);
    assert.equal(await signedOut(phone.page), true);
    assert.match(await statusShown(phone.page), /This device has been signed out: the server no longer accepts its token \(401 invalid_token\)/);
    const signedOutScreenshot = join(tmpdir(), `rmt-demo-signed-out-${process.pid}.png`);
    await phone.page.screenshot({ path: signedOutScreenshot, fullPage: true });
    t.diagnostic(`screenshot of the revoked device: ${signedOutScreenshot}`);

    // Sign the phone in again, then log out everywhere else from the laptop.
    assert.deepEqual(await signIn(phone, PHONE), ['POST /login 200', 'GET /devices 200']);
    assert.deepEqual(await click(laptop, 'Refresh'), ['GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [PHONE, `${LAPTOP} (this device)`]);
    assert.deepEqual(await click(laptop, 'Log out everywhere else'), ['POST /logout-others 200', 'GET /devices 200']);
    assert.match(await statusShown(laptop.page), /Signed out 1 other device\. This device stays signed in\./);
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`]);
    assert.deepEqual(await click(phone, 'Refresh'), ['GET /devices 401']);
    assert.equal(await signedOut(phone.page), true);

    // "Log out" on the phone signs out the phone only.
    assert.deepEqual(await signIn(phone, PHONE), ['POST /login 200', 'GET /devices 200']);
    assert.deepEqual(await click(phone, 'Log out'), ['POST /logout 204']);
    assert.equal(await signedOut(phone.page), true);
    assert.match(await statusShown(phone.page), /Signed out on this device\. Your other devices stay signed in\./);
    assert.deepEqual(await click(laptop, 'Refresh'), ['GET /devices 200']);
    assert.deepEqual(await devicesShown(laptop.page), [`${LAPTOP} (this device)`]);

    // Log out everywhere from the laptop: both devices are signed out.
    assert.deepEqual(await signIn(phone, PHONE), ['POST /login 200', 'GET /devices 200']);
    assert.deepEqual(await click(laptop, 'Log out everywhere'), ['POST /logout-all 200']);
    assert.equal(await signedOut(laptop.page), true);
    assert.match(await statusShown(laptop.page), /Signed out everywhere: 2 devices, this one included\./);
    assert.deepEqual(await click(phone, 'Refresh'), ['GET /devices 401']);
    assert.equal(await signedOut(phone.page), true);

    // A reload after being signed out stays signed out: nothing was kept that could sign in.
    await laptop.page.reload();
    await idle(laptop.page);
    assert.equal(await signedOut(laptop.page), true);
    assert.equal(await laptop.page.title(), 'Devices · passport-redis-multi-token demo');
  });
});
