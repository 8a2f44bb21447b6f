// A store error says where and why: the server (host, port and database, never a password)
// and the underlying cause, on real servers that refuse, freeze or reject the password.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { whyFailed } from '../src/deadline.js';
import { MultiTokenRepository } from '../src/index.js';
import { generateToken, routingTag } from '../src/token.js';
import { freePort, startRedisServer, type RedisServer } from './support/redis-server.js';
import { storeErrorOf } from './support/store-error.js';

const key = generateToken('rmt', routingTag('ada'));

describe('a store error names the server and the cause', () => {
  let locked: RedisServer;

  before(async () => {
    locked = await startRedisServer(['--requirepass', 'sekret-pass']);
  });

  after(async () => {
    await locked.stop();
  });

  it('names host, port and database, and the refused connection, when nothing listens', async () => {
    const port = await freePort();
    const tokens = new MultiTokenRepository({ redis: `redis://:sekret-pass@127.0.0.1:${port}`, timeout: 300 });
    try {
      const err = await storeErrorOf(tokens.authenticate(key));
      assert.equal(err.code, 'ERR_MULTITOKEN_TIMEOUT');
      assert.ok(err.message.includes(`127.0.0.1:${port}/0`), err.message);
      assert.match(err.message, /connection refused/);
      assert.equal((err.cause as { code?: unknown } | undefined)?.code, 'ECONNREFUSED');
      assert.ok(!err.message.includes('sekret-pass'), 'no password in the message');
    } finally {
      await tokens.close();
    }
  });

  it('names a refused password as an authentication failure', async () => {
    const tokens = new MultiTokenRepository({ redis: `redis://:wrong-pass@127.0.0.1:${locked.port}/2`, timeout: 500 });
    try {
      const err = await storeErrorOf(tokens.authenticate(key));
      assert.ok(err.message.includes(`127.0.0.1:${locked.port}/2`), err.message);
      assert.match(err.message, /authentication/);
      assert.ok(!err.message.includes('wrong-pass'));
    } finally {
      await tokens.close();
    }
  });

  it('names the server of a client passed in, when it freezes', async () => {
    const server = await startRedisServer();
    const client = createClient({ url: `${server.url}/3` });
    await client.connect();
    const tokens = new MultiTokenRepository({ redis: client, timeout: 300 });
    try {
      await tokens.createToken({ id: 'ada' });
      server.freeze();
      const err = await storeErrorOf(tokens.authenticate(key));
      assert.equal(err.code, 'ERR_MULTITOKEN_TIMEOUT');
      assert.ok(err.message.includes(`127.0.0.1:${server.port}/3`), err.message);
    } finally {
      server.thaw();
      client.destroy();
      await server.stop();
    }
  });
});

describe('whyFailed', () => {
  function coded(code: string, message = 'x'): Error {
    return Object.assign(new Error(message), { code });
  }

  it('says refused, not found, lost, certificate, authentication or not Redis, and never echoes the message', () => {
    assert.match(whyFailed(coded('ECONNREFUSED')), /refused/);
    assert.match(whyFailed(coded('ENOTFOUND')), /not found/);
    assert.match(whyFailed(coded('ECONNRESET')), /lost/);
    assert.match(whyFailed(coded('DEPTH_ZERO_SELF_SIGNED_CERT')), /certificate/);
    assert.match(whyFailed(coded('ERR_TLS_CERT_ALTNAME_INVALID')), /certificate/);
    assert.match(whyFailed(new Error('WRONGPASS invalid username-password pair')), /authentication/);
    assert.match(whyFailed(new Error('ERR unknown command \'HGET\', with args beginning with: \'rmt:{x}\' \'secret\'')), /not Redis/);
    assert.match(whyFailed(new AggregateError([coded('ECONNREFUSED')])), /refused/);
    assert.ok(!whyFailed(new Error('rmt_secret-looking text')).includes('rmt_'));
  });
});
