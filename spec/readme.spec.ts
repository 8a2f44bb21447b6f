// The README's Quick start, run as written: its app.mjs block is saved and started against a
// throwaway Redis, and every request of the transcript below it is sent, each answer checked
// against the transcript's status and body. The README cannot drift from what runs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { hashKeyOf } from './support/layout.js';
import { freePort } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
// Inside the package's folder, so `import 'passport-redis-multi-token'` resolves to the
// package itself (its built dist/), as an installed copy would, and express and passport to
// the dev dependencies. QUICK_START_DIR runs it in another folder instead, such as a new
// project with the packed tarball, express, passport and redis installed.
const OUT = process.env.QUICK_START_DIR === undefined
  ? new URL('../.scratch/quick-start/', import.meta.url)
  : pathToFileURL(`${process.env.QUICK_START_DIR.replace(/\/$/, '')}/`);

/** The fenced block that follows `<!-- quick-start: name -->` in the README. */
function block(name: string): string {
  const at = README.indexOf(`<!-- quick-start: ${name} -->`);
  assert.notEqual(at, -1, `the README has no quick-start ${name} block`);
  const match = /```[a-z]*\n([\s\S]*?)\n```/.exec(README.slice(at));
  assert.ok(match, `the quick-start ${name} block is not fenced`);
  return match[1]!;
}

/** Splits a shell command line into words: single quotes literal, double quotes expand $VARS. */
function words(line: string, vars: Map<string, string>): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  const expand = (text: string): string =>
    text.replace(/\$([A-Z_]+)/g, (_, name: string) => {
      const value = vars.get(name);
      assert.notEqual(value, undefined, `the transcript uses $${name} before setting it`);
      return value!;
    });
  for (const m of line.matchAll(re)) out.push(m[1] ?? expand(m[2] ?? m[3]!));
  return out;
}

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** The request of one `c ...` line (curl's -X, -H, -d and -A, and a localhost URL). */
function request(args: string[]): Sent {
  const sent: Sent = { method: 'GET', path: '', headers: {}, body: undefined };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-X') sent.method = args[++i]!;
    else if (arg === '-H') {
      const [name, ...value] = args[++i]!.split(':');
      sent.headers[name!.trim().toLowerCase()] = value.join(':').trim();
    } else if (arg === '-A') sent.headers['user-agent'] = args[++i]!;
    else if (arg === '-d') {
      sent.body = args[++i]!;
      if (sent.method === 'GET') sent.method = 'POST';
    } else if (/^localhost:\d+\//.test(arg)) sent.path = arg.slice(arg.indexOf('/'));
    else assert.fail(`the transcript's curl uses ${arg}, which this spec does not read`);
  }
  assert.notEqual(sent.path, '', 'a request without a URL');
  return sent;
}

const TOKEN = /^rmt_[0-9A-Za-z]+$/;
const TOKEN_ID = /^[A-Za-z0-9_-]{22}$/;

/** Whether an actual answer has the shown one's shape: tokens and ids by pattern, the rest exactly. */
function matches(shown: unknown, actual: unknown): boolean {
  if (typeof shown === 'string' && typeof actual === 'string') {
    for (const pattern of [TOKEN, TOKEN_ID]) if (pattern.test(shown)) return pattern.test(actual);
    return shown === actual;
  }
  if (Array.isArray(shown)) return Array.isArray(actual) && shown.length === actual.length && shown.every((item, i) => matches(item, actual[i]));
  if (shown !== null && typeof shown === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const keys = Object.keys(shown);
    return keys.length === Object.keys(actual).length && keys.every((key) => matches((shown as Record<string, unknown>)[key], (actual as Record<string, unknown>)[key]));
  }
  return shown === actual;
}

/** The JSON path at which `value` sits in `tree`, or null. */
function pathOf(tree: unknown, value: string, path: (string | number)[] = []): (string | number)[] | null {
  if (tree === value) return path;
  if (tree === null || typeof tree !== 'object') return null;
  for (const [key, child] of Object.entries(tree)) {
    const found = pathOf(child, value, [...path, Array.isArray(tree) ? Number(key) : key]);
    if (found !== null) return found;
  }
  return null;
}

function at(tree: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((node, key) => (node as Record<string | number, unknown>)[key], tree);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

describe('the README\'s Quick start', () => {
  const redis = sharedRedis();
  let app: ChildProcess | undefined;
  let port = 0;

  before(async () => {
    // The app's user 42, under the default key prefix: start from no tokens.
    await redis.client.del(hashKeyOf('rmt:', '42'));
    mkdirSync(OUT, { recursive: true });
    writeFileSync(new URL('app.mjs', OUT), `${block('app.mjs')}\n`);
    port = await freePort();
    app = spawn(process.execPath, ['app.mjs'], {
      cwd: OUT,
      env: { ...process.env, REDIS_URL: redis.server.url, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let printed = '';
    app.stdout!.setEncoding('utf8');
    for await (const chunk of app.stdout! as AsyncIterable<string>) {
      printed += chunk;
      if (printed.includes('listening on')) break;
    }
    assert.match(printed, /listening on http:\/\/localhost:\d+/);
  });

  after(async () => {
    if (app !== undefined && app.exitCode === null) {
      app.kill();
      await once(app, 'exit');
    }
  });

  it('answers every request of the transcript with the transcript\'s status and body', async () => {
    const lines = block('transcript').split('\n');
    const vars = new Map<string, string>();
    let shownAnswer: unknown;
    let actualAnswer: unknown;
    let requests = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.replace(/\s+# .*$/, '');
      const assignment = /^\$ ([A-Z_]+)=(\S+)$/.exec(line);
      if (assignment !== null) {
        // A value taken from the answer above: the spec takes the actual one at the same place.
        const path = pathOf(shownAnswer, assignment[2]!);
        assert.notEqual(path, null, `${assignment[2]} is not in the answer above it`);
        vars.set(assignment[1]!, String(at(actualAnswer, path!)));
        continue;
      }
      if (!line.startsWith('$ c ')) continue;
      const sent = request(words(line.slice(4), vars));
      const expected = /^(.*?) ?(\d{3})$/.exec(lines[i + 1] ?? '');
      assert.ok(expected, `no "<body> <status>" line after: ${line}`);
      const res = await fetch(`http://localhost:${port}${sent.path}`, { method: sent.method, headers: sent.headers, body: sent.body ?? null });
      const text = await res.text();
      assert.equal(res.status, Number(expected[2]), line);
      shownAnswer = parse(expected[1]!);
      actualAnswer = parse(text);
      assert.ok(matches(shownAnswer, actualAnswer), `${line}\nshown:  ${expected[1]}\nactual: ${text}`);
      requests += 1;
    }
    assert.ok(requests >= 8, `the transcript shows ${requests} requests`);
  });
});
