// `durable: true`: an acknowledged revocation is in the AOF on disk, so a kill -9 of the server
// cannot bring the token back (Valkey, `appendfsync everysec`, writes flowing from another
// connection). A server that cannot confirm it (Redis 7.0 has no WAITAOF; AOF off) rejects each
// such call with ERR_MULTITOKEN_UNSUPPORTED, and the call's write stands: retrying is safe.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient, type RedisClientType } from 'redis';
import { MultiTokenError, MultiTokenRepository } from '../src/index.js';
import { startRedisServer, uniquePrefix, valkeyServer, VALKEY_SKIP, type RedisServer } from './support/redis-server.js';

interface User {
  id: string;
}

const valkey = valkeyServer();
if (valkey === undefined) console.log(`# durability: ${VALKEY_SKIP}`);

async function connect(server: RedisServer): Promise<RedisClientType> {
  const client: RedisClientType = createClient({ url: server.url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

function isUnsupported(missing: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof MultiTokenError);
    assert.equal(err.code, 'ERR_MULTITOKEN_UNSUPPORTED');
    assert.equal((err as { statusCode?: number }).statusCode, 503);
    assert.match(err.message, missing);
    assert.match(err.message, /appendfsync always/);
    assert.match(err.message, /replicas/);
    return true;
  };
}

/** Checks that a server which cannot confirm an fsync refuses loudly, with each write standing. */
async function refusesLoudly(server: RedisServer, missing: RegExp): Promise<void> {
  const client = await connect(server);
  const plain = new MultiTokenRepository<User>({ redis: client, keyPrefix: uniquePrefix('unsupported') });
  const durable = new MultiTokenRepository<User>({ redis: client, keyPrefix: (plain as unknown as { settings: { keyPrefix: string } }).settings.keyPrefix, durable: true });
  try {
    const user = { id: 'ada' };
    const [a, b] = [(await plain.createToken(user)).token, (await plain.createToken(user)).token];
    await assert.rejects(durable.expireToken(a.key), isUnsupported(missing));
    assert.equal(await durable.authenticate(a.key), null, 'the revocation stands');
    assert.equal(await plain.expireToken(a.key), false, 'a retry finds it gone');
    await assert.rejects(durable.createToken(user, { device: 'tablet' }), isUnsupported(missing));
    assert.deepEqual((await plain.listTokens(user)).map((t) => t.id), [b.id], 'a refused create leaves no token');
    await assert.rejects(durable.expireAllTokens(user), isUnsupported(missing));
    assert.equal(await durable.authenticate(b.key), null, 'log out everywhere stands');
  } finally {
    await durable.close();
    client.destroy();
  }
}

describe('durable on a server that cannot confirm an fsync', () => {
  it('rejects on Redis 7.0 (no WAITAOF) with ERR_MULTITOKEN_UNSUPPORTED naming the alternatives, and the write stands', async () => {
    const server = await startRedisServer([], { binary: 'redis-server', appendfsync: 'everysec' });
    try {
      await refusesLoudly(server, /no WAITAOF/);
    } finally {
      await server.stop();
    }
  });

  it('rejects on Valkey with AOF off, naming appendonly, and the write stands', { skip: valkey === undefined ? VALKEY_SKIP : false }, async () => {
    const server = await startRedisServer([], { binary: valkey! });
    try {
      await refusesLoudly(server, /appendonly no/);
    } finally {
      await server.stop();
    }
  });
});

describe('durable on Valkey with appendfsync everysec', { skip: valkey === undefined ? VALKEY_SKIP : false }, () => {
  it('brings back no acknowledged revocation after kill -9 while another connection keeps writing (≥100 revocations, ≥10 kills)', async () => {
    const server = await startRedisServer([], { binary: valkey!, appendfsync: 'everysec' });
    const keyPrefix = uniquePrefix('kill');
    const KILLS = 10;
    const PER_KILL = 12;
    let revoked = 0;
    try {
      for (let round = 0; round < KILLS; round++) {
        const client = await connect(server);
        const noise = await connect(server);
        let flowing = true;
        // Writes from another connection keep the AOF and its fsync busy, as a live server's would.
        const writing = Promise.all(
          Array.from({ length: 4 }, async (_, w) => {
            for (let i = 0; flowing; i++) await noise.hSet(`noise${w}`, String(i % 200), 'x'.repeat(16_384)).catch(() => {});
          }),
        );
        const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix, durable: true, timeout: 2000 });
        const user = { id: `round-${round}` };
        const issued = [];
        for (let i = 0; i < PER_KILL; i++) issued.push((await tokens.createToken(user)).token);
        const acknowledged = await Promise.all(issued.map((token) => tokens.expireToken(token.key)));
        server.kill();
        await tokens.close();
        assert.deepEqual(acknowledged, Array(PER_KILL).fill(true));
        revoked += acknowledged.length;
        flowing = false;
        client.destroy();
        noise.destroy();
        await writing;
        await server.stop();
        await server.restart();
        const check = await connect(server);
        const after = new MultiTokenRepository<User>({ redis: check, keyPrefix });
        try {
          const back = (await Promise.all(issued.map((token) => after.authenticate(token.key)))).filter((found) => found !== null);
          assert.equal(back.length, 0, `round ${round}: ${back.length} acknowledged revocations came back`);
        } finally {
          check.destroy();
        }
      }
      assert.ok(revoked >= 100);
    } finally {
      await server.stop();
    }
  });

  it('keeps an acknowledged login after kill -9, and a login whose fsync was refused leaves nothing', async () => {
    const server = await startRedisServer([], { binary: valkey!, appendfsync: 'everysec' });
    const keyPrefix = uniquePrefix('login');
    try {
      const client = await connect(server);
      const tokens = new MultiTokenRepository<User>({ redis: client, keyPrefix, durable: true, replicas: 1, timeout: 500 });
      // No replica here: WAITAOF 1 1 finds the write on this disk, on no replica's.
      await assert.rejects(tokens.createToken({ id: 'ada' }), { code: 'ERR_MULTITOKEN_DURABILITY' });
      const local = new MultiTokenRepository<User>({ redis: client, keyPrefix, durable: true });
      const { token } = await local.createToken({ id: 'ada' });
      server.kill();
      await Promise.all([tokens.close(), local.close()]);
      client.destroy();
      await server.stop();
      await server.restart();
      const check = await connect(server);
      const after = new MultiTokenRepository<User>({ redis: check, keyPrefix });
      assert.deepEqual((await after.listTokens({ id: 'ada' })).map((t) => t.id), [token.id]);
      assert.equal((await after.authenticate(token.key))?.token.expiresAt?.getTime(), token.expiresAt?.getTime(), 'confirmed, with its full lifetime');
      check.destroy();
    } finally {
      await server.stop();
    }
  });
});
