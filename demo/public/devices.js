// The demo's devices page: signs in, lists the user's devices, rotates this device's token and
// signs devices out through the demo API. The token lives in this tab's sessionStorage and goes out only in the Authorization
// header. Whatever comes from the server (device labels above all, which users type) reaches the
// DOM as text through textContent, never as HTML.
'use strict';

const TOKEN_KEY = 'rmt-demo-token';
const USER_KEY = 'rmt-demo-user';
const LOG_LENGTH = 10;

const main = document.querySelector('main');
const form = document.getElementById('signin-form');
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** The server no longer accepts this tab's token. */
class SignedOut extends Error {}

/** An answer the page did not expect, such as a 503 while Redis is down. */
class UnexpectedAnswer extends Error {}

function say(text, tone) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.dataset.tone = tone ?? 'info';
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function logRequest(method, path, status) {
  const item = document.createElement('li');
  const call = document.createElement('code');
  call.textContent = `${method} ${path}`;
  const answer = document.createElement('span');
  answer.className = 'http-status';
  answer.dataset.ok = String(typeof status === 'number' && status < 400);
  answer.textContent = String(status);
  item.append(call, ' → ', answer);
  const log = document.getElementById('request-log');
  log.prepend(item);
  while (log.children.length > LOG_LENGTH) log.lastElementChild.remove();
}

/** One call to the demo API, with this tab's token when it has one. */
async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    logRequest(method, path, 'no answer');
    throw new UnexpectedAnswer('the demo server did not answer');
  }
  logRequest(method, path, res.status);
  if (res.status === 401 && token !== null) {
    const reason = /error="([^"]*)"/.exec(res.headers.get('www-authenticate') ?? '');
    throw new SignedOut(reason === null ? '401' : `401 ${reason[1]}`);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  return { status: res.status, data };
}

function expectStatus(res, ...statuses) {
  if (statuses.includes(res.status)) return;
  const name = res.data !== null && typeof res.data.error === 'string' ? `: ${res.data.error}` : '';
  throw new UnexpectedAnswer(res.status === 503 ? 'the token store is unavailable (503); try again' : `the server answered ${res.status}${name}`);
}

/** Runs one user action; the page is aria-busy until it has finished and redrawn. */
let running = 0;
async function run(action) {
  running += 1;
  main.setAttribute('aria-busy', 'true');
  for (const button of document.querySelectorAll('button')) button.disabled = true;
  try {
    await action();
  } catch (err) {
    if (err instanceof SignedOut) {
      showSignedOut(`This device has been signed out: the server no longer accepts its token (${err.message}). Sign in again.`, 'warn');
    } else {
      say(`Something went wrong: ${err instanceof Error ? err.message : String(err)}.`, 'error');
    }
  } finally {
    running -= 1;
    if (running === 0) {
      for (const button of document.querySelectorAll('button')) button.disabled = false;
      main.setAttribute('aria-busy', 'false');
    }
  }
}

function showSignedOut(message, tone) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  document.querySelector('#devices tbody').replaceChildren();
  document.getElementById('account').hidden = true;
  document.getElementById('signin').hidden = false;
  say(message, tone);
}

function showAccount() {
  document.getElementById('account-name').textContent = sessionStorage.getItem(USER_KEY) ?? '';
  document.getElementById('signin').hidden = true;
  document.getElementById('account').hidden = false;
}

function relative(date) {
  const seconds = (date.getTime() - Date.now()) / 1000;
  if (Math.abs(seconds) < 10) return 'just now';
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(Math.round(seconds), 'second');
}

function timeCell(iso, missing) {
  const cell = document.createElement('td');
  if (iso === null) {
    cell.textContent = missing;
    return cell;
  }
  const date = new Date(iso);
  const time = document.createElement('time');
  time.dateTime = iso;
  time.textContent = relative(date);
  const exact = document.createElement('span');
  exact.className = 'exact';
  exact.textContent = dateFormat.format(date);
  cell.append(time, exact);
  return cell;
}

function deviceRow(device) {
  const label = device.device ?? 'Unnamed device';
  const row = document.createElement('tr');
  row.dataset.id = device.id;
  if (device.current) row.className = 'current';

  const name = document.createElement('td');
  const text = document.createElement('span');
  text.className = 'device-label';
  text.textContent = label;
  name.append(text);
  if (device.current) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'this device';
    name.append(' ', badge);
  }
  const id = document.createElement('span');
  id.className = 'token-id';
  id.textContent = `token id ${device.id}`;
  name.append(id);

  const action = document.createElement('td');
  if (!device.current) {
    const revoke = document.createElement('button');
    revoke.type = 'button';
    revoke.textContent = 'Revoke';
    revoke.setAttribute('aria-label', `Revoke ${label}`);
    revoke.addEventListener('click', () => void run(() => revokeDevice(device.id, label)));
    action.append(revoke);
  }
  row.append(name, timeCell(device.lastUsedAt, 'never'), timeCell(device.createdAt, ''), timeCell(device.expiresAt, 'never'), action);
  return row;
}

async function refresh() {
  const res = await api('GET', '/devices');
  expectStatus(res, 200);
  showAccount();
  document.querySelector('#devices tbody').replaceChildren(...res.data.map(deviceRow));
  return res.data.length;
}

async function refreshClicked() {
  const count = await refresh();
  say(`${plural(count, 'device')} signed in as ${sessionStorage.getItem(USER_KEY) ?? ''}.`);
}

async function signIn() {
  const fields = new FormData(form);
  const username = String(fields.get('username'));
  const res = await api('POST', '/login', {
    username,
    password: String(fields.get('password')),
    device: String(fields.get('device')),
  });
  if (res.status === 401) {
    say('Wrong user name or password (401).', 'error');
    return;
  }
  expectStatus(res, 200);
  sessionStorage.setItem(TOKEN_KEY, res.data.token);
  sessionStorage.setItem(USER_KEY, username);
  form.elements.namedItem('password').value = '';
  await refresh();
  say(res.data.firstDevice ? `Signed in as ${username}. No other device is signed in.` : `Signed in as ${username}, beside your other devices.`);
}

async function revokeDevice(id, label) {
  const res = await api('DELETE', `/devices/${encodeURIComponent(id)}`);
  expectStatus(res, 204, 404);
  await refresh();
  say(res.status === 204 ? `Revoked “${label}”: its next request will be refused.` : `“${label}” was already signed out.`);
}

async function rotateToken() {
  const res = await api('POST', '/rotate');
  expectStatus(res, 200);
  sessionStorage.setItem(TOKEN_KEY, res.data.token);
  await refresh();
  say("Rotated this device's token. The old one works for 30 more seconds; used after that, it signs this device out, as a stolen token would.");
}

async function logOut() {
  const res = await api('POST', '/logout');
  expectStatus(res, 204);
  showSignedOut('Signed out on this device. Your other devices stay signed in.');
}

async function logOutOthers() {
  const res = await api('POST', '/logout-others');
  expectStatus(res, 200);
  await refresh();
  say(`Signed out ${plural(res.data.removed, 'other device')}. This device stays signed in.`);
}

async function logOutEverywhere() {
  const res = await api('POST', '/logout-all');
  expectStatus(res, 200);
  showSignedOut(`Signed out everywhere: ${plural(res.data.removed, 'device')}, this one included.`);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  void run(signIn);
});
document.getElementById('refresh').addEventListener('click', () => void run(refreshClicked));
document.getElementById('rotate').addEventListener('click', () => void run(rotateToken));
document.getElementById('logout').addEventListener('click', () => void run(logOut));
document.getElementById('logout-others').addEventListener('click', () => void run(logOutOthers));
document.getElementById('logout-all').addEventListener('click', () => void run(logOutEverywhere));

if (sessionStorage.getItem(TOKEN_KEY) === null) {
  showSignedOut('Signed out. Sign in to see your devices.');
  main.setAttribute('aria-busy', 'false');
} else {
  void run(refresh);
}
