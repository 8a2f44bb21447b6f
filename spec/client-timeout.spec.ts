// A node-redis 6 client created with its own short command timeout. The repository's calls
// are bound by the repository's `timeout`, not by the client's; and the client the user holds
// keeps its own timeout for its own commands.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { TimeoutError, type RedisClientType } from 'redis';
import { MultiTokenRepository, MultiTokenStoreError } from '../src/index.js';
import { uniquePrefix } from './support/redis-server.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

const CLIENT_TIMEOUT_MS = 5;
const ada: User = { id: 'ada' };

// A server of the spec's own: the spec slows it with DEBUG SLEEP and stops it.
const shared = sharedRedis({ own: true, args: ['--enable-debug-command', 'yes'] });
let client: RedisClientType;

shared.before(async () => {
  client = await shared.connect({ commandOptions: { timeout: CLIENT_TIMEOUT_MS }, socket: { reconnectStrategy: () => 20 } });
});

type Settled<T> = { value: T } | { error: unknown };
type Created = Awaited<ReturnType<MultiTokenRepository<User>['createToken']>>;

/** Settles `call` at once, so a rejection is handled however long the spec takes to look at it. */
function settled<T>(call: Promise<T>): Promise<Settled<T>> {
  return call.then((value) => ({ value }), (error: unknown) => ({ error }));
}

/** Waits (bounded) until `redis` has seen its connection drop. */
async function disconnected(redis: RedisClientType): Promise<void> {
  for (let i = 0; i < 200 && redis.isReady; i++) await sleep(5);
  assert.equal(redis.isReady, false, 'the client never noticed the server was gone');
}

describe('a client whose own command timeout is 5 ms', () => {
  it('serves the repository while the server is slowed past that timeout', async () => {
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('slow'), touchInterval: 3600 });
    const { token } = await tokens.createToken(ada);

    const slept = shared.client.sendCommand(['DEBUG', 'SLEEP', '0.3']);
    await sleep(30); // the server is now asleep: every command sent from here waits for it
    const started = performance.now();
    const [found, created] = await Promise.all([tokens.authenticate(token.key), tokens.createToken(ada), slept]);
    // Not a speed check: proof that the calls were in flight while the server slept.
    assert.ok(performance.now() - started > 10 * CLIENT_TIMEOUT_MS, 'the server was not slowed during the calls');
    assert.equal(found?.token.id, token.id);
    assert.equal((await tokens.authenticate(created.token.key))?.token.id, created.token.id);
  });

  it('keeps it for the user\'s own commands, while the repository\'s calls wait for a reconnect within the repository\'s timeout', async () => {
    const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('outage') });
    const impatient = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('outage'), timeout: 100 });
    await tokens.createToken(ada);

    await shared.server.stop();
    let creating: Promise<Settled<Created>>;
    try {
      await disconnected(client);
      // Commands queue while the client reconnects; the client's own timer fires on its own ones.
      creating = settled(tokens.createToken(ada));
      const failing = settled(impatient.createToken(ada));
      await assert.rejects(client.ping(), TimeoutError);
      await assert.rejects(client.hGet('anything', 'field'), TimeoutError);
      const failed = await failing;
      assert.ok('error' in failed && failed.error instanceof MultiTokenStoreError, 'the impatient call did not fail');
      assert.equal(failed.error.code, 'ERR_MULTITOKEN_TIMEOUT');
    } finally {
      await shared.server.restart();
    }
    const created = await creating;
    assert.ok('value' in created, `the call failed: ${'error' in created ? String(created.error) : ''}`);
    const { token } = created.value;
    assert.equal((await tokens.authenticate(token.key))?.token.id, token.id);
    assert.equal(await client.ping(), 'PONG');
  });
});
