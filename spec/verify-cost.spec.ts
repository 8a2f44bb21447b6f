// What a verification costs the server, counted from INFO commandstats: one read whatever the
// number of peppers listed and whatever the number of tokens the user holds, and a touch that
// reads only its own field.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClientType } from 'redis';
import { MultiTokenRepository, type MultiTokenRepositoryOptions } from '../src/index.js';
import { SEPARATOR } from '../src/record.js';
import { generateToken, pepperFingerprint, routingTag } from '../src/token.js';
import { callsOf, commandCount } from './support/commands.js';
import { hashKeyOf } from './support/layout.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

const PEPPERS = ['pepper-four-of-16-bytes', 'pepper-three-of-16-bytes', 'pepper-two-of-16-bytes', 'pepper-one-of-16-bytes'];

// A server of the specs' own: the counts must see this file's commands only.
const shared = sharedRedis({ own: true });
let client: RedisClientType;

shared.before(async () => {
  client = await shared.connect();
});

/** Every command the server ran since the last reset, with its calls (INFO and CONFIG left out). */
async function callsByCommand(): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const match of (await shared.client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (match[1] !== 'info' && !match[1]!.startsWith('config')) calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

/** Runs `call` with the counters reset before it, and settles before counting. */
async function counted(call: () => Promise<unknown>): Promise<number> {
  await shared.client.configResetStat();
  await call();
  return commandCount(shared.client);
}

function repository(keyPrefix: string, options: MultiTokenRepositoryOptions<User>): MultiTokenRepository<User> {
  return new MultiTokenRepository<User>({ redis: client, keyPrefix, ...options });
}

describe('a verification with peppers listed', () => {
  const ada = { id: 'ada' };

  for (const [label, secret] of [
    ['no pepper', undefined],
    ['one pepper', PEPPERS[0]!],
    ['four peppers', PEPPERS],
  ] as const) {
    it(`costs one command for a forged, well-formed token, with ${label}`, async () => {
      const tokens = repository(uniquePrefix('cost'), secret === undefined ? {} : { secret });
      await tokens.createToken(ada); // the user's hash exists; the forged token is not in it
      const forged = generateToken('rmt', routingTag(ada.id));
      assert.equal(tokens.isWellFormed(forged), true);
      // A repository's first verification also measures the server's clock (a TIME script);
      // every later one is the read alone.
      assert.equal(await tokens.authenticate(generateToken('rmt', routingTag(ada.id))), null);

      await shared.client.configResetStat();
      assert.equal(await tokens.authenticate(forged), null);
      assert.equal(await commandCount(shared.client), 1);
      assert.equal(await callsOf(shared.client, Array.isArray(secret) ? 'hmget' : 'hget'), 1);
    });
  }

  it('costs one read for a valid token of the oldest of four peppers, when no touch is due', async () => {
    const prefix = uniquePrefix('cost');
    const { token } = await repository(prefix, { secret: PEPPERS[3]! }).createToken(ada);
    const rotated = repository(prefix, { secret: PEPPERS, touchInterval: 3600 });
    await rotated.authenticate(token.key); // counted from the second: the cost of every one after the first

    await shared.client.configResetStat();
    assert.equal((await rotated.authenticate(token.key))?.token.id, token.id);
    assert.deepEqual(await callsByCommand(), { hmget: 1 });
  });

  it('costs one read and one touch script when a touch is due', async () => {
    const prefix = uniquePrefix('cost');
    const { token } = await repository(prefix, { secret: PEPPERS[3]! }).createToken(ada);
    // With an idle timeout, a verification waits for its touch, so the count sees it.
    const rotated = repository(prefix, { secret: PEPPERS, idleTimeout: 3600, touchInterval: 0 });
    await rotated.authenticate(token.key); // the server learns the touch script

    await shared.client.configResetStat();
    assert.equal((await rotated.authenticate(token.key))?.token.id, token.id);
    const calls = await callsByCommand();
    assert.equal(calls.hmget, 1);
    assert.equal(calls.evalsha, 1);
    assert.equal(calls.eval, undefined);
    assert.equal(calls.hgetall, undefined, 'the touch read the whole hash');
  });
});

describe('a user with 10,000 tokens', () => {
  const MANY = 10_000;
  const crowd = { id: 'crowd' };
  const loner = { id: 'loner' };
  const prefix = uniquePrefix('flat');
  const plain: MultiTokenRepositoryOptions<User> = { maxTokensPerUser: null, touchInterval: 3600 };
  const touching: MultiTokenRepositoryOptions<User> = { maxTokensPerUser: null, idleTimeout: 7200, touchInterval: 0 };
  let crowdKey = '';
  let lonerKey = '';

  before(async () => {
    // One token issued the usual way, then 9,999 live records of the user written straight into
    // the hash in the stored format (ids under no pepper): past the 500 a create would accept.
    const now = Date.now();
    const record = [now.toString(36), (now + 86_400_000).toString(36), '', crowd.id].join(SEPARATOR);
    const hash = hashKeyOf(prefix, crowd.id);
    const tokens = repository(prefix, touching);
    crowdKey = (await tokens.createToken(crowd)).token.key;
    lonerKey = (await tokens.createToken(loner)).token.key;
    for (let done = 0; done < MANY - 1; done += 1000) {
      const fields: string[] = [];
      for (let i = done; i < Math.min(done + 1000, MANY - 1); i++) fields.push(pepperFingerprint(null) + randomBytes(16).toString('base64url').slice(0, 18), record);
      await shared.client.sendCommand(['HSET', hash, ...fields]);
    }
    assert.equal(await shared.client.hLen(hash), MANY);
    assert.equal((await tokens.listTokens(crowd)).length, MANY, 'the records written straight in are live tokens of the user');
  });

  it('still verifies with one HGET', async () => {
    const tokens = repository(prefix, plain);
    await tokens.authenticate(crowdKey);

    await shared.client.configResetStat();
    assert.equal((await tokens.authenticate(crowdKey))?.user.id, crowd.id);
    assert.deepEqual(await callsByCommand(), { hget: 1 });
  });

  it('is touched with the same commands as a user with one token, none of them HGETALL', async () => {
    const tokens = repository(prefix, touching);
    await tokens.authenticate(lonerKey); // the server learns the touch script
    // A touch is due once the server's clock, as this process estimates it, has passed the last
    // use; on a loaded machine the estimate may be a few ms off, so let some time pass first.
    await sleep(100);

    await shared.client.configResetStat();
    assert.notEqual(await tokens.authenticate(crowdKey), null);
    const crowdCalls = await callsByCommand();
    assert.equal(crowdCalls.evalsha, 1, 'no touch ran');

    await shared.client.configResetStat();
    assert.notEqual(await tokens.authenticate(lonerKey), null);
    const lonerCalls = await callsByCommand();

    assert.equal(crowdCalls.hgetall, undefined, 'the touch read every field');
    assert.deepEqual(crowdCalls, lonerCalls);
    assert.equal(await counted(() => tokens.authenticate(crowdKey)), await counted(() => tokens.authenticate(lonerKey)));
  });
});
