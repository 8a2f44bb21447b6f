// The Lua scripts keep their promise: each one touches only the key it declares (KEYS[1]),
// proven on a real Redis whose ACL lets the client reach that one key and nothing else, and
// by reading every script's source; and each one parses under Lua 5.4 as well as Redis's 5.1.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisClientType } from 'redis';
import { LuaFactory, LuaReturn, type LuaEngine } from 'wasmoon';
import { nodeRedisStore } from '../src/client.js';
import { MultiTokenRepository, type TokenTouchFailedEvent } from '../src/index.js';
import { SEPARATOR } from '../src/record.js';
import { CallDeadline } from '../src/deadline.js';
import { runScript } from '../src/run-script.js';
import * as scripts from '../src/scripts.js';
import { ALL_SCRIPTS, PRUNE_TOKENS } from '../src/scripts.js';
import { hashKeyOf } from './support/layout.js';
import { sharedRedis } from './support/shared-redis.js';

interface User {
  id: string;
}

// ---------------------------------------------------------------------------------------------
// Reading the scripts: every redis.call names its command literally, and every key argument
// is KEYS[1].

// How each command the scripts may call takes keys: `none` takes no key, `first` takes one key
// as its first argument, `all` takes only keys (so exactly one is allowed). A command missing
// here is reported, so a new command needs a deliberate entry with its key positions.
const KEY_POSITIONS: Readonly<Record<string, 'none' | 'first' | 'all'>> = {
  TIME: 'none',
  HGET: 'first',
  HMGET: 'first',
  HSET: 'first',
  HDEL: 'first',
  HGETALL: 'first',
  HLEN: 'first',
  HEXISTS: 'first',
  PEXPIREAT: 'first',
  PEXPIRE: 'first',
  PTTL: 'first',
  PERSIST: 'first',
  EXISTS: 'all',
  DEL: 'all',
  UNLINK: 'all',
};

/** The top-level, comma-separated arguments of the call whose `(` is at `open`. */
function callArguments(source: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = open + 1; i < source.length; i++) {
    const char = source[i]!;
    if (char === "'" || char === '"') {
      let end = i + 1;
      while (end < source.length && source[end] !== char) end += source[end] === '\\' ? 2 : 1;
      current += source.slice(i, end + 1);
      i = end;
    } else if (char === '(' || char === '[' || char === '{') {
      depth += 1;
      current += char;
    } else if ((char === ')' || char === ']' || char === '}') && depth > 0) {
      depth -= 1;
      current += char;
    } else if (char === ')') {
      if (current.trim() !== '' || args.length > 0) args.push(current.trim());
      return args;
    } else if (char === ',' && depth === 0) {
      args.push(current.trim());
      current = '';
    } else {
      current += char;
    }
  }
  throw new Error(`unclosed redis.call at ${open}`);
}

/** Every call of `source` that could touch a key other than KEYS[1], described; and how many calls it read. */
function undeclaredKeyUses(source: string): { violations: string[]; calls: number } {
  const violations: string[] = [];
  let calls = 0;
  for (const match of source.matchAll(/redis\.p?call\s*\(/g)) {
    calls += 1;
    const [command, ...rest] = callArguments(source, match.index + match[0].length - 1);
    const literal = /^'([A-Za-z]+)'$|^"([A-Za-z]+)"$/.exec(command ?? '');
    if (literal === null) {
      violations.push(`a call whose command is not a literal: ${String(command)}`);
      continue;
    }
    const name = (literal[1] ?? literal[2]!).toUpperCase();
    const positions = KEY_POSITIONS[name];
    if (positions === undefined) violations.push(`${name}: a command with no known key positions`);
    else if (positions === 'none' && rest.length > 0) violations.push(`${name} takes no argument here`);
    else if (positions === 'first' && rest[0] !== 'KEYS[1]') violations.push(`${name} on ${String(rest[0])}`);
    else if (positions === 'all' && (rest.length !== 1 || rest[0] !== 'KEYS[1]')) violations.push(`${name} on ${rest.join(', ')}`);
  }
  return { violations, calls };
}

describe('the source of every script', () => {
  it('lists every exported script in ALL_SCRIPTS', () => {
    const exported = Object.values(scripts).filter(
      (value): value is scripts.LuaScript => typeof value === 'object' && value !== null && 'sha1' in value && 'source' in value,
    );
    assert.ok(exported.length >= 6);
    assert.deepEqual(new Set(exported), new Set(ALL_SCRIPTS));
  });

  it('calls Redis only on KEYS[1], with a literal command name', () => {
    for (const script of ALL_SCRIPTS) {
      const { violations, calls } = undeclaredKeyUses(script.source);
      assert.ok(calls >= 2, `${script.name}: found no redis.call to check`);
      assert.deepEqual(violations, [], `${script.name} touches a key it does not declare`);
    }
  });

  it('is a check that catches a key built from ARGV, a second key, or a command it cannot read', () => {
    const caught = (lua: string): string[] => undeclaredKeyUses(lua).violations;
    assert.deepEqual(caught("local v = redis.call('HGET', KEYS[1], ARGV[1])\nredis.call('TIME')"), []);
    assert.equal(caught("return redis.call('HGET', ARGV[1], 'x')").length, 1);
    assert.equal(caught("return redis.call('HGET', 'rmt:' .. ARGV[2], 'x')").length, 1);
    assert.equal(caught("return redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])").length, 1);
    assert.equal(caught("return redis.pcall('PTTL', string.format('%s', ARGV[1]))").length, 1);
    assert.equal(caught("return redis.call('EXISTS', KEYS[1], ARGV[3])").length, 1);
    assert.equal(caught("local c = 'DEL'\nreturn redis.call(c, KEYS[1])").length, 1);
    assert.equal(caught("return redis.call('RENAME', KEYS[1], 'elsewhere')").length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Lua 5.4 (Dragonfly and other servers embed it; Redis and Valkey embed 5.1). The reference
// Lua 5.4 comes from npm as WebAssembly (wasmoon), so no system package is needed; a script is
// only loaded (compiled), never run.

/** Whether `source` compiles under `lua`, and the compiler's message when it does not. */
function load(lua: LuaEngine, source: string): { status: LuaReturn; message: string } {
  const state = lua.global;
  const top = state.getTop();
  const status = state.lua.luaL_loadstring(state.address, source);
  const message = status === LuaReturn.Ok ? '' : state.lua.lua_tolstring(state.address, -1, null);
  state.setTop(top);
  return { status, message };
}

describe('under Lua 5.4', () => {
  let lua: LuaEngine;

  before(async () => {
    lua = await new LuaFactory().createEngine({ openStandardLibs: false });
  });

  after(() => {
    lua.global.close();
  });

  it('every script parses (loaded, never run)', () => {
    assert.equal(lua.global.lua.lua_version(lua.global.address), 504);
    for (const script of ALL_SCRIPTS) {
      const { status, message } = load(lua, script.source);
      assert.equal(status, LuaReturn.Ok, `${script.name} does not parse under Lua 5.4: ${message}`);
    }
  });

  it('is a check that rejects a script that does not parse', () => {
    assert.equal(load(lua, 'local x = = 1').status, LuaReturn.ErrorSyntax);
    // `goto` is a keyword from Lua 5.2 on: fine as a name under 5.1, refused under 5.4.
    assert.equal(load(lua, 'local goto = 1\nreturn goto').status, LuaReturn.ErrorSyntax);
    // And a 5.4-only attribute compiles: this is 5.4's grammar, not 5.1's.
    assert.equal(load(lua, 'local limit <const> = 1\nreturn limit').status, LuaReturn.Ok);
  });
});

// ---------------------------------------------------------------------------------------------
// On a Redis whose ACL lets one client reach one tag hash and nothing else.

const PREFIX = 'acl:';
const SCRIPT_COMMANDS = ['+time', '+hget', '+hset', '+hdel', '+hgetall', '+hlen', '+pexpireat', '+persist', '+pttl', '+exists'];

describe('a client allowed only the user\'s tag hash', () => {
  const ada: User = { id: 'ada' };
  const key = hashKeyOf(PREFIX, ada.id);
  // A server of the spec's own: it changes the server's users.
  const shared = sharedRedis({ own: true });
  let admin: RedisClientType;
  let scoped: RedisClientType;

  shared.before(async () => {
    admin = shared.client;
    // `~` is a glob pattern; the tag key holds no glob character, so it matches that key alone.
    assert.doesNotMatch(key, /[*?[\]\\]/);
    await admin.sendCommand([
      'ACL', 'SETUSER', 'scoped', 'reset', 'on', '>scoped-password', `~${key}`, 'resetchannels',
      // INFO: the one-time eviction-policy check (keyless, so no key pattern is involved).
      '-@all', '+evalsha', '+eval', '+hmget', '+info', ...SCRIPT_COMMANDS,
    ]);
    scoped = await shared.connect({ url: `redis://scoped:scoped-password@127.0.0.1:${shared.server.port}` });
  });

  it('runs the whole lifecycle, touches and pruning included, with no ACL denial', async () => {
    await admin.sendCommand(['ACL', 'LOG', 'RESET']);
    await admin.sendCommand(['SCRIPT', 'FLUSH']);
    const tokens = new MultiTokenRepository<User>({ redis: scoped, keyPrefix: PREFIX, idleTimeout: 60, touchInterval: 0 });
    const touchFailures: TokenTouchFailedEvent[] = [];
    tokens.on('touchFailed', (event) => touchFailures.push(event));

    const phone = (await tokens.createToken(ada, { device: 'phone' })).token;
    const laptop = (await tokens.createToken(ada, { device: 'laptop' })).token;
    const tablet = (await tokens.createToken(ada, { device: 'tablet' })).token;
    const watch = (await tokens.createToken(ada, { device: 'watch' })).token;
    const tv = (await tokens.createToken(ada, { device: 'tv' })).token;

    const before = (await admin.hGet(key, phone.id))!;
    const used = await tokens.authenticate(phone.key);
    assert.equal(used?.token.id, phone.id);
    const after = (await admin.hGet(key, phone.id))!;
    assert.equal(before.split(SEPARATOR)[2], '', 'a new token has no last use yet');
    assert.notEqual(after.split(SEPARATOR)[2], '', 'the touch wrote the last use');
    assert.deepEqual(touchFailures, []);

    // A dead field, as a token past its expiry leaves it, for the prune script to drop.
    const past = (Date.now() - 60_000).toString(36);
    await admin.hSet(key, 'AAAAAAAAAAAAAAAAAAAAAA', [past, (Date.now() - 30_000).toString(36), '', ada.id].join(SEPARATOR));
    const pruned = await runScript(nodeRedisStore(scoped), new CallDeadline(2000), PRUNE_TOKENS, [key], ['60000']);
    assert.equal(pruned, 1);

    assert.deepEqual((await tokens.listTokens(ada)).map((t) => t.id).sort(), [phone.id, laptop.id, tablet.id, watch.id, tv.id].sort());
    assert.equal(await tokens.expireToken(phone.key), true);
    assert.equal(await tokens.expireToken(laptop), true);
    assert.equal(await tokens.expireTokenById(ada, tablet.id), true);
    assert.equal(await tokens.expireOtherTokens(ada, watch.key), 1);
    assert.equal(await tokens.authenticate(tv.key), null);
    assert.equal(await tokens.expireAllTokens(ada), 1);
    assert.equal(await tokens.authenticate(watch.key), null);
    assert.equal(await admin.exists(key), 0);

    // Two peppers: the read is one HMGET of the same hash.
    const old = new MultiTokenRepository<User>({ redis: scoped, keyPrefix: PREFIX, secret: 'an-old-pepper-of-16-bytes' });
    const rotated = new MultiTokenRepository<User>({
      redis: scoped, keyPrefix: PREFIX, secret: ['a-new-pepper-of-16-bytes', 'an-old-pepper-of-16-bytes'],
    });
    const peppered = (await old.createToken(ada)).token;
    assert.equal((await rotated.authenticate(peppered.key))?.token.id, peppered.id);
    assert.equal(await rotated.expireAllTokens(ada), 1);

    assert.deepEqual(await admin.sendCommand(['ACL', 'LOG']), [], 'the server refused something the package sent');
  });

  it('refuses a script that reaches another key, so the check above can fail', async () => {
    await admin.sendCommand(['ACL', 'LOG', 'RESET']);
    const other = hashKeyOf(PREFIX, 'grace');
    await assert.rejects(scoped.eval("return redis.call('HGET', ARGV[1], 'x')", { keys: [key], arguments: [other] }));
    await assert.rejects(scoped.eval("return redis.call('HGET', 'elsewhere', 'x')", { keys: [key], arguments: [] }));
    await assert.rejects(scoped.hGet(other, 'x'), (err: Error) => err.message.startsWith('NOPERM'));
    // The same command on the declared key is allowed: the refusals are about the keys.
    assert.equal(await scoped.eval("return redis.call('HGET', KEYS[1], 'x')", { keys: [key], arguments: [] }), null);

    const log = await admin.sendCommand<Record<string, unknown>[]>(['ACL', 'LOG']);
    const denied = log.map((entry) => `${String(entry.reason)} ${String(entry.context)} ${String(entry.object)}`).sort();
    assert.deepEqual(denied, ['key lua elsewhere', `key lua ${other}`, `key toplevel ${other}`].sort());
  });
});
