// The admin CLI's share of issue 14, run in process (runCli, the function the bin calls) against
// real Redis: `list` is read-only, `revoke` and `revoke-all` that find nothing fail and say
// where they looked, anything non-printable it prints is escaped, and it takes only user ids
// the repository would.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, type CliIo } from '../src/cli/run.js';
import { MultiTokenRepository } from '../src/index.js';
import { SEPARATOR } from '../src/record.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { randomTokenId } from './support/script-time.js';
import { sharedRedis } from './support/shared-redis.js';

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: false },
    env: {},
  };
  const status = await runCli(args, io);
  return { status, stdout, stderr };
}

// What a terminal would act on: C0 (but the newlines of the output), DEL, C1, bidi controls.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

describe('the admin CLI, hardened', () => {
  const shared = sharedRedis();

  function setup(label: string): { prefix: string; tokens: MultiTokenRepository; common: string[] } {
    const prefix = uniquePrefix(label);
    return { prefix, tokens: new MultiTokenRepository({ redis: shared.client, keyPrefix: prefix }), common: ['--url', shared.server.url, '--prefix', prefix] };
  }

  it('list is read-only: dead and idle tokens, of the user and of others sharing the hash, stay where they are', async () => {
    const { prefix, tokens, common } = setup('cli-list-ro');
    const { token } = await tokens.createToken({ id: 'ada' }, { device: 'phone' });
    const key = hashKeyOf(prefix, 'ada');
    const now = Date.now();
    // A dead token of ada, an idle one of ada, and an idle one of a user who shares the hash.
    const idle = randomTokenId();
    await shared.client.hSet(key, randomTokenId(), [(now - 7200e3).toString(36), (now - 3600e3).toString(36), '', 'ada'].join(SEPARATOR));
    await shared.client.hSet(key, idle, [(now - 7200e3).toString(36), (now + 3600e3).toString(36), '', 'ada'].join(SEPARATOR));
    await shared.client.hSet(key, randomTokenId(), [(now - 7200e3).toString(36), (now + 3600e3).toString(36), '', 'mallory'].join(SEPARATOR));
    const before = await shared.client.hGetAll(key);
    const ttl = await shared.client.pTTL(key);

    const ids = async (args: string[]): Promise<string[]> => {
      const run = await cli(['list', 'ada', ...common, ...args, '--json']);
      assert.equal(run.status, 0, run.stderr);
      return (JSON.parse(run.stdout) as { tokens: { id: string }[] }).tokens.map((listed) => listed.id);
    };
    assert.deepEqual(await ids(['--idle-timeout', '1800']), [token.id], 'an idle timeout of 30 min hides the idle token');
    assert.deepEqual((await ids([])).sort(), [token.id, idle].sort(), 'without one, the idle token is live');

    assert.deepEqual(await shared.client.hGetAll(key), before);
    assert.ok(Math.abs((await shared.client.pTTL(key)) - ttl) < 5000);
    assert.equal((await tokens.authenticate(token.key))?.user.id, 'ada');
  });

  it('revoke-all and revoke that find nothing exit 1, naming the prefix and the URL, never its password', async () => {
    const { tokens, common } = setup('cli-nothing');
    const { token } = await tokens.createToken({ id: 'ada' });
    const wrongPrefix = uniquePrefix('cli-elsewhere');
    const url = new URL(shared.server.url);
    url.username = 'default';
    url.password = 'hunter2-not-shown';
    const elsewhere = ['--url', url.toString(), '--prefix', wrongPrefix];

    for (const args of [['revoke-all', 'ada'], ['revoke', 'ada', token.id]]) {
      const run = await cli([...args, ...elsewhere]);
      assert.equal(run.status, 1, JSON.stringify(run));
      assert.match(run.stderr, /^passport-redis-multi-token: [^\n]+\n$/);
      assert.ok(run.stderr.includes(wrongPrefix), run.stderr);
      assert.ok(run.stderr.includes(`127.0.0.1:${shared.server.port}`), run.stderr);
      assert.ok(!run.stderr.includes('hunter2'), 'the password stays out');
    }
    // Nothing was revoked under the right prefix.
    assert.equal((await tokens.authenticate(token.key))?.user.id, 'ada');
    const done = await cli(['revoke-all', 'ada', ...common]);
    assert.equal(done.status, 0);
    assert.equal(await tokens.authenticate(token.key), null);
    const again = await cli(['revoke-all', 'ada', ...common]);
    assert.equal(again.status, 1);
  });

  it('escapes every non-printable character it prints, in text and in JSON that still reads back the same', async () => {
    const { prefix, common } = setup('cli-escape');
    // Labels written by something other than createToken, which would have cleaned them.
    const short = 'e\u001b[2J\u0085\u202etxt';
    const long = 'evil\u001b]0;owned\u0007 \u0085 \u202eafdp.exe \u2066x\u2069 \u{F0000}';
    const now = Date.now();
    for (const [device, age] of [[short, 0], [long, 1000]] as const) {
      const record = [(now - age).toString(36), (now + 3600e3).toString(36), '', 'ada', '', device].join(SEPARATOR);
      await shared.client.hSet(hashKeyOf(prefix, 'ada'), randomTokenId(), record);
    }

    const text = await cli(['list', 'ada', ...common]);
    assert.equal(text.status, 0, text.stderr);
    assert.doesNotMatch(text.stdout, RAW_CONTROL);
    assert.ok(text.stdout.includes('e\\u{1B}[2J\\u{85}\\u{202E}txt'), text.stdout);
    assert.ok(text.stdout.includes('evil\\u{1B}]0;owned\\u{7}'), text.stdout);

    const json = await cli(['list', 'ada', ...common, '--json']);
    assert.doesNotMatch(json.stdout, RAW_CONTROL);
    assert.doesNotMatch(json.stdout, /[\u{F0000}]/u);
    assert.deepEqual((JSON.parse(json.stdout) as { tokens: { device: string }[] }).tokens.map((listed) => listed.device), [short, long]);
  });

  it('takes only user ids the repository takes: bad usage (2) for a lone surrogate, a control character or over 256 bytes', async () => {
    for (const userId of ['alice\uD800', 'a\u0085b', 'x'.repeat(257)]) {
      const run = await cli(['revoke-all', userId, '--url', shared.server.url]);
      assert.equal(run.status, 2, JSON.stringify(userId));
      assert.match(run.stderr, /userId/);
    }
  });
});
