// The admin CLI, run as users run it: the built bin in a child process, against real Redis
// (a standalone server and a 3-master cluster). `npm test` builds dist/ before the specs run.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient, createCluster } from 'redis';
import { runCli } from '../src/cli/run.js';
import { MultiTokenRepository, type IssuedToken } from '../src/index.js';
import { hashKeyOf } from './support/layout.js';
import { startRedisCluster, type RedisCluster } from './support/redis-cluster.js';
import { freePort, startRedisServer, uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

const BIN = fileURLToPath(new URL('../dist/esm/cli/bin.js', import.meta.url));
const TOKEN = /rmt_[0-9A-Za-z]{20,}/;
// What a child node process may take to start and load node-redis on a busy 2-core machine,
// on top of the deadline the CLI is given. A hang would exceed any bound.
const STARTUP_ALLOWANCE_MS = 6000;

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the built CLI with `args`; REDIS_URL is unset unless `env` sets it. */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (env.REDIS_URL === undefined) delete childEnv.REDIS_URL;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr, ms: performance.now() - started }));
  });
}

/** Runs the CLI, expects status 0 and a quiet stderr, and parses its --json output. */
async function cliJson(args: string[]): Promise<Record<string, unknown>> {
  const run = await cli([...args, '--json']);
  assert.equal(run.stderr, '', 'a successful run writes nothing on stderr when it is not a terminal');
  assert.equal(run.status, 0);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

function assertOneLine(stderr: string): void {
  assert.match(stderr, /^passport-redis-multi-token: [^\n]+\n$/, `one error line expected, got ${JSON.stringify(stderr)}`);
}


before(() => {
  assert.ok(existsSync(BIN), 'dist/ is missing: run npm run build first');
});

describe('the admin CLI', () => {
  const shared = sharedRedis();

  function setup(label: string, suffix = ''): { prefix: string; tokens: MultiTokenRepository; common: string[] } {
    const prefix = `${uniquePrefix(label)}${suffix}`;
    return {
      prefix,
      tokens: new MultiTokenRepository({ redis: shared.client, keyPrefix: prefix }),
      common: ['--url', shared.server.url, '--prefix', prefix],
    };
  }

  describe('list', () => {
    it('shows exactly the live tokens of the user, and never a token', async () => {
      const { tokens, common, prefix } = setup('cli-list');
      const phone = (await tokens.createToken({ id: 'ada' }, { device: 'phone', scopes: ['read', 'write'] })).token;
      const laptop = (await tokens.createToken({ id: 'ada' }, { device: 'laptop', ttl: null })).token;
      const dying = (await tokens.createToken({ id: 'ada' }, { ttl: 0.2 })).token;
      const other = (await tokens.createToken({ id: 'grace' })).token;
      await sleep(300);

      const [text, json] = await Promise.all([cli(['list', 'ada', ...common]), cliJson(['list', 'ada', ...common])]);
      assert.equal(text.status, 0);
      assert.equal(text.stderr, '');
      for (const output of [text.stdout, JSON.stringify(json)]) {
        for (const key of [phone.key, laptop.key, dying.key, other.key]) assert.ok(!output.includes(key), 'a token was printed');
        assert.doesNotMatch(output, TOKEN);
        assert.ok(!output.includes(dying.id), 'a dead token was listed');
        assert.ok(!output.includes(other.id), "another user's token was listed");
      }
      assert.ok(text.stdout.includes(phone.id) && text.stdout.includes(laptop.id));
      assert.match(text.stdout, /^2 live tokens of user ada\.$/m);
      // Which server and database it read: a wrong URL or database shows at once.
      assert.ok(text.stdout.endsWith(`(${shared.server.url}/0, prefix '${prefix}')\n`), text.stdout);
      assert.equal(json.server, `${shared.server.url}/0`);

      assert.equal(json.userId, 'ada');
      const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());
      const expected = (token: IssuedToken<{ id: string }>): Record<string, unknown> => ({
        id: token.id,
        device: token.device,
        scopes: token.scopes,
        meta: {},
        createdAt: iso(token.createdAt),
        lastUsedAt: iso(token.lastUsedAt),
        expiresAt: iso(token.expiresAt),
      });
      // Newest first.
      assert.deepEqual(json.tokens, [expected(laptop), expected(phone)]);
    });

    it('says so when the user has no live token', async () => {
      const { common } = setup('cli-list-none');
      assert.deepEqual(await cliJson(['list', 'nobody', ...common]), { server: `${shared.server.url}/0`, userId: 'nobody', tokens: [] });
    });
  });

  describe('revoke and revoke-all', () => {
    it('revoke makes that token fail authentication, and only that one', async () => {
      const { tokens, common } = setup('cli-revoke');
      const first = (await tokens.createToken({ id: 'ada' })).token;
      const second = (await tokens.createToken({ id: 'ada' })).token;
      const other = (await tokens.createToken({ id: 'grace' })).token;

      const run = await cli(['revoke', 'ada', first.id, ...common]);
      assert.equal(run.status, 0);
      assert.equal(run.stderr, '');
      assert.match(run.stdout, new RegExp(`Revoked token ${first.id} of user ada`));
      assert.equal(await tokens.authenticate(first.key), null);
      assert.equal((await tokens.authenticate(second.key))?.token.id, second.id);
      assert.equal((await tokens.authenticate(other.key))?.token.id, other.id);

      // Another user's token, or one already gone: nothing is revoked, and the run fails.
      const [foreign, again] = await Promise.all([cli(['revoke', 'grace', second.id, ...common]), cli(['revoke', 'ada', first.id, ...common, '--json'])]);
      assert.equal(foreign.status, 1);
      assertOneLine(foreign.stderr);
      assert.equal((await tokens.authenticate(second.key))?.token.id, second.id);
      assert.equal(again.status, 1);
      assertOneLine(again.stderr);
      assert.deepEqual(JSON.parse(again.stdout), { server: `${shared.server.url}/0`, userId: 'ada', tokenId: first.id, revoked: false });
    });

    it('revoke-all makes every token of the user fail authentication, and leaves other users alone', async () => {
      const { tokens, common } = setup('cli-revoke-all');
      const mine = await Promise.all([1, 2, 3].map(async () => (await tokens.createToken({ id: 'ada' })).token));
      const other = (await tokens.createToken({ id: 'grace' })).token;

      assert.deepEqual(await cliJson(['revoke-all', 'ada', ...common]), { server: `${shared.server.url}/0`, userId: 'ada', revoked: 3 });
      for (const token of mine) assert.equal(await tokens.authenticate(token.key), null);
      assert.equal((await tokens.authenticate(other.key))?.token.id, other.id);
      assert.deepEqual(await tokens.listTokens({ id: 'ada' }), []);
      // Nothing left to revoke fails the run (more in spec/cli-hardening.spec.ts).
      const again = await cli(['revoke-all', 'ada', ...common, '--json']);
      assert.equal(again.status, 1);
      assert.deepEqual(JSON.parse(again.stdout), { server: `${shared.server.url}/0`, userId: 'ada', revoked: 0 });
    });
  });

  describe('stats', () => {
    it('counts the hashes, users, tokens by time left, dead tokens and memory that were created', async () => {
      // A prefix with glob characters, which SCAN MATCH must take literally.
      const { prefix, tokens, common } = setup('cli-stats', '[*]?\\:');
      const day = 86400;
      await tokens.createToken({ id: 'u1' }, { ttl: 1800 });
      await tokens.createToken({ id: 'u1' }, { ttl: 7200 });
      await tokens.createToken({ id: 'u2' }, { ttl: 3 * day });
      await tokens.createToken({ id: 'u2' }, { ttl: 10 * day });
      await tokens.createToken({ id: 'u2' }, { ttl: 0.2 });
      await tokens.createToken({ id: 'u3' }, { ttl: 60 * day });
      await tokens.createToken({ id: 'u3' }, { ttl: null });
      // Another prefix on the same server is not counted.
      await new MultiTokenRepository({ redis: shared.client, keyPrefix: `${prefix}other:` }).createToken({ id: 'u4' });
      await sleep(300);

      let memory = 0;
      for (const user of ['u1', 'u2', 'u3']) {
        memory += Number(await shared.client.sendCommand(['MEMORY', 'USAGE', hashKeyOf(prefix, user), 'SAMPLES', '0']));
      }

      const [stats, text] = await Promise.all([cliJson(['stats', ...common]), cli(['stats', ...common])]);
      assert.deepEqual(stats, {
        server: `${shared.server.url}/0`,
        prefix,
        idleTimeout: null,
        cluster: false,
        servers: 1,
        keys: 3,
        users: 3,
        tokens: 6,
        byTimeLeft: { '<1h': 1, '<1d': 1, '<7d': 1, '<30d': 1, longer: 1, never: 1 },
        expired: 1,
        unreadable: 0,
        memoryBytes: memory,
      });
      assert.equal(text.status, 0);
      assert.equal(text.stderr, '', 'no progress display when stderr is not a terminal');
      assert.match(text.stdout, /^users\s+3$/m);
      assert.match(text.stdout, /^live tokens\s+6$/m);
      assert.match(text.stdout, /^dead, not yet pruned\s+1$/m);

      // With an idle timeout of an hour, every live token has less than an hour left.
      const idle = await cliJson(['stats', ...common, '--idle-timeout', '3600']);
      assert.deepEqual(idle.byTimeLeft, { '<1h': 6, '<1d': 0, '<7d': 0, '<30d': 0, longer: 0, never: 0 });
    });
  });

  describe('prune', () => {
    /** Rewrites a token's record as if it was created an hour ago, and last used at `lastUsed`. */
    async function age(prefix: string, token: IssuedToken<{ id: string }>, lastUsed: number | null): Promise<void> {
      const key = hashKeyOf(prefix, token.userId);
      const parts = (await shared.client.hGet(key, token.id))!.split('\x1f');
      parts[0] = (Date.now() - 3_600_000).toString(36);
      parts[2] = lastUsed === null ? '' : lastUsed.toString(36);
      await shared.client.hSet(key, token.id, parts.join('\x1f'));
    }

    it('removes only what has expired; with --idle-timeout, what has been idle too', async () => {
      const { prefix, tokens, common } = setup('cli-prune');
      const idle = (await tokens.createToken({ id: 'ada' }, { ttl: 7200 })).token;
      const used = (await tokens.createToken({ id: 'grace' }, { ttl: null })).token;
      for (const id of ['ada', 'ada', 'grace']) await tokens.createToken({ id }, { ttl: 0.2 });
      await sleep(300);

      assert.deepEqual(await cliJson(['prune', ...common]), {
        server: `${shared.server.url}/0`,
        prefix,
        idleTimeout: null,
        cluster: false,
        servers: 1,
        keys: 2,
        keysPruned: 2,
        removed: 3,
      });
      for (const token of [idle, used]) assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
      const stats = await cliJson(['stats', ...common]);
      assert.equal(stats.tokens, 2);
      assert.equal(stats.expired, 0);

      // Both made an hour ago; one never used since, one used just now; and a new one.
      await age(prefix, idle, null);
      await age(prefix, used, Date.now());
      const fresh = (await tokens.createToken({ id: 'ada' })).token;
      const pruned = await cliJson(['prune', ...common, '--idle-timeout', '1800']);
      assert.equal(pruned.removed, 1);
      assert.equal(pruned.idleTimeout, 1800);
      assert.equal(await tokens.authenticate(idle.key), null);
      for (const token of [used, fresh]) assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
    });
  });

  describe('failures', () => {
    it('exits 1 with one line on stderr, within the deadline, when Redis is not there; the password stays out', async () => {
      const port = await freePort();
      // No --url: REDIS_URL is the default.
      const run = await cli(['stats', '--timeout', '1000'], { REDIS_URL: `redis://admin:hunter2-secret@127.0.0.1:${port}` });
      assert.equal(run.status, 1);
      assertOneLine(run.stderr);
      assert.ok(run.stderr.includes(`127.0.0.1:${port}`), run.stderr);
      assert.ok(!run.stderr.includes('hunter2-secret'));
      assert.equal(run.stdout, '');
      assert.ok(run.ms < 1000 + STARTUP_ALLOWANCE_MS, `took ${run.ms} ms`);
    });

    it('exits 1 with one line on stderr within the deadline when Redis does not answer', async () => {
      const server = await startRedisServer();
      server.freeze();
      try {
        const [stats, list] = await Promise.all([
          cli(['stats', '--url', server.url, '--timeout', '1000']),
          cli(['list', 'ada', '--url', server.url, '--timeout', '1000', '--cluster']),
        ]);
        for (const run of [stats, list]) {
          assert.equal(run.status, 1);
          assertOneLine(run.stderr);
          assert.match(run.stderr, /did not answer within 1000 ms/);
          assert.ok(run.ms < 1000 + STARTUP_ALLOWANCE_MS, `took ${run.ms} ms`);
        }
      } finally {
        await server.stop();
      }
    });

    it('takes a token id that starts with a dash as the id, not as an option', async () => {
      const { tokens, common } = setup('cli-dash');
      const kept = (await tokens.createToken({ id: 'ada' })).token;
      // Ids are base64url, so one in 32 starts with '-'. This one matches no token: exit 1, not 2.
      const run = await cli(['revoke', 'ada', `-${'A'.repeat(21)}`, ...common]);
      assert.equal(run.status, 1, run.stderr);
      assertOneLine(run.stderr);
      assert.equal((await tokens.authenticate(kept.key))?.token.id, kept.id);
    });

    it('exits 2 with one line on stderr on bad usage', async () => {
      const url = ['--url', shared.server.url];
      const cases: string[][] = [
        [],
        ['frobnicate'],
        ['list'],
        ['list', 'ada', 'extra', ...url],
        ['revoke', 'ada', ...url],
        ['revoke', 'ada', 'not-a-token-id', ...url],
        ['stats', '--bogus', ...url],
        ['stats', '--url', 'http://127.0.0.1:6379'],
        ['stats', '--prefix', 'a{b}', ...url],
        ['stats', '--timeout', 'soon', ...url],
        ['prune', '--idle-timeout', '0', ...url],
        ['revoke-all', 'ada', '--idle-timeout', '60', ...url],
        ['help', 'frobnicate'],
      ];
      const runs = await Promise.all(cases.map((args) => cli(args)));
      runs.forEach((run, i) => {
        assert.equal(run.status, 2, `${cases[i]!.join(' ')}: ${run.stderr}`);
        assertOneLine(run.stderr);
        assert.equal(run.stdout, '');
      });
      const env = await cli(['stats'], { REDIS_URL: 'localhost:6379' });
      assert.equal(env.status, 2);
      assert.match(env.stderr, /REDIS_URL/);
    });
  });

  describe('progress', () => {
    it("is drawn on a terminal's stderr and erased before the result; never with --json", async () => {
      const { tokens, common } = setup('cli-progress');
      await tokens.createToken({ id: 'ada' });
      // In process, with a stderr that says it is a terminal.
      const run = async (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> => {
        let stdout = '';
        let stderr = '';
        const status = await runCli(args, {
          stdout: { write: (text: string) => (stdout += text) },
          stderr: { isTTY: true, write: (text: string) => (stderr += text) },
          env: {},
        });
        return { status, stdout, stderr };
      };
      const text = await run(['prune', ...common]);
      assert.equal(text.status, 0);
      const erase = '\r\x1b[2K';
      assert.ok(text.stderr.startsWith(`${erase}prune: 1 hash`), JSON.stringify(text.stderr));
      assert.ok(text.stderr.endsWith(erase), 'the progress line is erased');
      assert.match(text.stdout, /^Removed 0 dead tokens from 0 of 1 hash /);
      const json = await run(['stats', ...common, '--json']);
      assert.equal(json.status, 0);
      assert.equal(json.stderr, '');
      assert.equal((JSON.parse(json.stdout) as { tokens: number }).tokens, 1);
    });
  });

  describe('help', () => {
    it('documents every command and option, for the tool and for each command', async () => {
      const [tool, list, prune] = await Promise.all([cli(['--help']), cli(['list', '--help']), cli(['help', 'prune'])]);
      for (const run of [tool, list, prune]) {
        assert.equal(run.status, 0);
        assert.equal(run.stderr, '');
        for (const option of ['--url', '--prefix', '--cluster', '--timeout', '--json', '--help']) assert.ok(run.stdout.includes(option), option);
      }
      for (const command of ['list <userId>', 'revoke <userId> <tokenId>', 'revoke-all <userId>', 'stats', 'prune']) {
        assert.ok(tool.stdout.includes(command), command);
      }
      assert.match(list.stdout, /^Usage: passport-redis-multi-token list <userId> \[options\]$/m);
      assert.match(prune.stdout, /--idle-timeout <seconds>/);
    });

    it('is an executable file with a shebang, and prints the version', async () => {
      const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      const { stdout } = await promisify(execFile)(BIN, ['--version']);
      assert.equal(stdout, `${version}\n`);
    });
  });
});

describe('the admin CLI on a Redis Cluster', () => {
  let cluster: RedisCluster;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster.stop();
  });

  it('stats and prune walk every master', async () => {
    const client = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    client.on('error', () => {});
    await client.connect();
    try {
      const prefix = uniquePrefix('cli-cluster');
      const tokens = new MultiTokenRepository({ redis: client, keyPrefix: prefix });
      const users = Array.from({ length: 24 }, (_, i) => `user-${i}`);
      const live = await Promise.all(users.map(async (id) => (await tokens.createToken({ id }, { ttl: 1800 })).token));
      await Promise.all(users.map((id) => tokens.createToken({ id }, { ttl: 0.2 })));
      for (const node of cluster.nodes) {
        const admin = createClient({ url: node.url });
        await admin.connect();
        const size = await admin.dbSize();
        admin.destroy();
        assert.ok(size > 0, `no user landed on the master at port ${node.port}`);
      }
      await sleep(300);

      // Cluster mode found with INFO, from one node's URL.
      const [first, second] = cluster.nodes.map((node) => node.url);
      const stats = await cliJson(['stats', '--url', first!, '--prefix', prefix]);
      assert.equal(stats.cluster, true);
      assert.equal(stats.server, `the Redis Cluster seeded at ${first!}`);
      assert.equal(stats.servers, 3);
      assert.equal(stats.keys, 24);
      assert.equal(stats.users, 24);
      assert.equal(stats.tokens, 24);
      assert.equal(stats.expired, 24);
      assert.deepEqual(stats.byTimeLeft, { '<1h': 24, '<1d': 0, '<7d': 0, '<30d': 0, longer: 0, never: 0 });

      const pruned = await cliJson(['prune', '--url', second!, '--cluster', '--prefix', prefix]);
      assert.deepEqual(pruned, { server: `the Redis Cluster seeded at ${second!}`, prefix, idleTimeout: null, cluster: true, servers: 3, keys: 24, keysPruned: 24, removed: 24 });
      const [after, list] = await Promise.all([
        cliJson(['stats', '--url', second!, '--cluster', '--prefix', prefix]),
        cliJson(['list', 'user-7', '--url', first!, '--prefix', prefix]),
      ]);
      assert.deepEqual((list.tokens as { id: string }[]).map((token) => token.id), [live[7]!.id]);
      assert.equal(after.tokens, 24);
      assert.equal(after.expired, 0);
      for (const token of live) assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
    } finally {
      await client.close();
    }
  });
});
