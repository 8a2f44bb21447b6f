// The demo's devices page in real headless Chromium: two browser contexts are two devices of
// one user. Chromium comes from Debian (/usr/bin/chromium, or CHROMIUM_PATH); playwright-core
// only drives it and never downloads a browser. Without Chromium this spec fails, never skips.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDemo, type DemoProcess } from './support/demo-process.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
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

/** Debian's Chromium, driven by playwright-core; a clear failure when it is not installed. */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: install Debian's package (apt-get update && apt-get install -y chromium; .ci/run does this) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

before(async () => {
  demo = await startDemo();
});

after(async () => {
  await browser?.close();
  await demo.stop();
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
  it('signs in, lists both devices, revokes one, and logs out everywhere else and everywhere', async (t) => {
    const laptop = await openDevice();
    const phone = await openDevice();
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
