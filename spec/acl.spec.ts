// The least-privilege Redis user the README documents is enough for every call of the package,
// scripts included, and a missing command is a store error, never a false answer. The ACL is
// read from the Operations guide itself (docs/operations.md), so the two cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { nodeRedisStore } from '../src/client.js';
import { MultiTokenRepository, MultiTokenStoreError, type TokenTouchFailedEvent } from '../src/index.js';
import { CallDeadline } from '../src/deadline.js';
import { normaliseInteger } from '../src/replies.js';
import { runScript } from '../src/run-script.js';
import { PRUNE_TOKENS } from '../src/scripts.js';
import { hashKeyOf } from './support/layout.js';
import { sharedRedis } from './support/shared-redis.js';

const PASSWORD = 'acl-spec-password-0123456789';

/** The `ACL SETUSER` rules of docs/operations.md: everything after the password. */
function readmeAcl(): { user: string; rules: string[] } {
  const readme = readFileSync(new URL('../docs/operations.md', import.meta.url), 'utf8');
  const line = readme.split('\n').find((text) => text.startsWith('ACL SETUSER '));
  assert.ok(line !== undefined, 'docs/operations.md has an ACL SETUSER line');
  const [, , user, on, password, ...rules] = line.trim().split(/\s+/);
  assert.equal(on, 'on');
  assert.match(password ?? '', /^>/);
  return { user: user!, rules };
}

describe('a Redis user with only the README’s ACL', () => {
  // A server of the spec's own: it changes the server's users.
  const shared = sharedRedis({ own: true });
  let client: RedisClientType;
  const { user, rules } = readmeAcl();
  const keyPrefix = rules.find((rule) => rule.startsWith('~'))!.slice(1).replace(/\*$/, '');

  shared.before(async () => {
    await shared.client.sendCommand(['ACL', 'SETUSER', user, 'on', `>${PASSWORD}`, ...rules]);
    client = await shared.connect({ url: `redis://${user}:${PASSWORD}@127.0.0.1:${shared.server.port}` });
  });

  it('serves every call: scripts, touch, several peppers, no expiry, pruning', async () => {
    const touchFailures: TokenTouchFailedEvent[] = [];
    const tokens = new MultiTokenRepository({
      redis: client,
      keyPrefix,
      idleTimeout: 3600,
      touchInterval: 0,
      secret: ['acl-spec-pepper-new-0123456789', 'acl-spec-pepper-old-0123456789'],
    });
    tokens.on('touchFailed', (event) => touchFailures.push(event));
    const ada = { id: 'ada' };
    const { token: laptop, first } = await tokens.createToken(ada, { device: 'laptop' });
    const { token: phone } = await tokens.createToken(ada, { device: 'phone' });
    assert.equal(first, true);
    // A touch on every verification (touchInterval 0): its script reads PTTL and sets PEXPIREAT.
    assert.equal((await tokens.authenticate(laptop.key))?.user.id, 'ada');
    assert.equal((await tokens.getUserFromToken(phone.key))?.id, 'ada');
    assert.deepEqual((await tokens.listTokens(ada, { current: laptop })).map((t) => t.current).sort(), [false, true]);
    assert.equal(await tokens.expireOtherTokens(ada, laptop.key), 1);
    assert.equal(await tokens.expireTokenById(ada, laptop.id), true);
    assert.equal(await tokens.authenticate(laptop.key), null);
    const { token: tablet } = await tokens.createToken(ada, { device: 'tablet' });
    assert.equal(await tokens.expireToken(tablet), true);
    await tokens.createToken(ada);
    assert.equal(await tokens.expireAllTokens(ada), 1);
    assert.deepEqual(touchFailures, []);

    // A token with no expiry of any kind makes the create script PERSIST the hash.
    const forever = new MultiTokenRepository({ redis: client, keyPrefix, ttl: null });
    await forever.createToken({ id: 'grace' });
    assert.equal(await shared.client.pTTL(hashKeyOf(keyPrefix, 'grace')), -1);

    // The admin tools' prune script (EXISTS) runs as this user too.
    const pruned = await runScript(nodeRedisStore(client), new CallDeadline(2000), PRUNE_TOKENS, [hashKeyOf(keyPrefix, 'grace')], ['0']);
    assert.equal(normaliseInteger(pruned, 'EVALSHA prune'), 0);
  });

  it('answers a store error, not a false result, when the ACL lacks a command a script calls', async () => {
    // Redis checks the commands a script calls against the caller's ACL, not just EVALSHA.
    const narrower = 'acl-spec-no-hdel';
    await shared.client.sendCommand(['ACL', 'SETUSER', narrower, 'on', `>${PASSWORD}`, ...rules, '-hdel']);
    const limited: RedisClientType = createClient({ url: `redis://${narrower}:${PASSWORD}@127.0.0.1:${shared.server.port}` });
    limited.on('error', () => {});
    await limited.connect();
    try {
      const tokens = new MultiTokenRepository({ redis: limited, keyPrefix });
      const { token } = await tokens.createToken({ id: 'alan' });
      await assert.rejects(tokens.expireToken(token.key), (err: unknown) => err instanceof MultiTokenStoreError && err.code === 'ERR_MULTITOKEN_STORE');
      assert.equal((await tokens.authenticate(token.key))?.user.id, 'alan');
    } finally {
      await limited.close();
    }
  });
});
