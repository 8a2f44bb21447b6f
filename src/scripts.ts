import { createHash } from 'node:crypto';
import { HASH_MAX_FIELDS } from './keys.js';
import { FINGERPRINT_LENGTH } from './token.js';

// Every change to a user's tokens is one of these scripts, on one declared key: KEYS[1], the
// HASH of the user's routing tag. No script builds a key name, so each runs on Redis Cluster
// during resharding, on Valkey and Dragonfly, and behind proxies that refuse undeclared keys.
// They are written for Lua 5.1 and 5.4 alike (no unpack, no integer division, no goto).
//
// Times come from the server's clock (TIME), never the caller's, so app servers whose clocks
// differ agree on what has expired. A record is `created␟expires␟lastUsed␟userId[␟rest]`, times
// in base 36 (see record.ts). A field's name, the token id, starts with the fingerprint of its
// pepper (token.ts): the write scripts drop the fields of a pepper no longer listed.

/** A Lua script with its SHA1, ready for EVALSHA. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

const PRELUDE = `
local SEP = '\\31'
local FP_LENGTH = ${FINGERPRINT_LENGTH}
local HASH_MAX = ${HASH_MAX_FIELDS}
local DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function b36(n)
  n = math.floor(n)
  local s = ''
  repeat
    local d = n % 36
    s = string.sub(DIGITS, d + 1, d + 1) .. s
    n = math.floor(n / 36)
  until n == 0
  return s
end
-- The first four parts of a record, and where the rest starts; nil for a value not ours.
local function parse(value)
  local r = {}
  local start = 1
  for i = 1, 4 do
    local stop = string.find(value, SEP, start, true)
    if stop then
      r[i] = string.sub(value, start, stop - 1)
      start = stop + 1
    elseif i == 4 then
      r[i] = string.sub(value, start)
      start = #value + 2
    else
      return nil
    end
  end
  local created = tonumber(r[1], 36)
  if not created or r[4] == '' then return nil end
  local expires = nil
  if r[2] ~= '' then expires = tonumber(r[2], 36) end
  local last = created
  if r[3] ~= '' then last = tonumber(r[3], 36) or created end
  return { created = created, expires = expires, last = last, user = r[4], rest = string.sub(value, start) }
end
-- End of life: the earlier of the absolute expiry and the idle deadline; nil for neither.
local function life_end(r, idle)
  local e = r.expires
  if idle > 0 then
    local i = r.last + idle
    if not e or i < e then e = i end
  end
  return e
end
-- The set of live pepper fingerprints of a string of them (FP_LENGTH characters each); nil
-- for '', which keeps the records of every pepper (the admin tools know none).
local function live_set(s)
  if s == '' then return nil end
  local set = {}
  for i = 1, #s, FP_LENGTH do set[string.sub(s, i, i + FP_LENGTH - 1)] = true end
  return set
end
-- Reads every field of KEYS[1] and drops the dead ones: past their end of life, or made under
-- a pepper whose fingerprint is not in live (a set, or nil for any). visit(id, record, end,
-- value) may claim a live field, which is then dropped too. With readonly, nothing is dropped
-- and dead fields are only skipped. Returns the latest end of life of what is left (nil when
-- one of them lives forever), and how many dead fields there were.
local function sweep(now, idle, visit, live, readonly)
  local all = redis.call('HGETALL', KEYS[1])
  local latest = 0
  local forever = false
  local dead = 0
  for i = 1, #all, 2 do
    local id = all[i]
    local r = parse(all[i + 1])
    if r then
      local e = life_end(r, idle)
      if (e and e <= now) or (live and not live[string.sub(id, 1, FP_LENGTH)]) then
        if not readonly then redis.call('HDEL', KEYS[1], id) end
        dead = dead + 1
      elseif visit and visit(id, r, e, all[i + 1]) then
        redis.call('HDEL', KEYS[1], id)
      elseif not e then
        forever = true
      elseif e > latest then
        latest = e
      end
    end
  end
  if forever then return nil, dead end
  return latest, dead
end
-- The key lives exactly as long as its longest-lived token.
local function keep_alive(latest)
  if latest == nil then
    redis.call('PERSIST', KEYS[1])
  elseif latest > 0 then
    redis.call('PEXPIREAT', KEYS[1], latest)
  end
end
`;

function lua(name: string, body: string): LuaScript {
  // Normalised so that re-indenting the source here does not change the SHA.
  const source = (PRELUDE + body)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('--'))
    .join('\n');
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
}

/**
 * Stores a new token; prunes dead fields (and those of dropped peppers); evicts the user's
 * tokens closest to their end of life (then the least recently used, then the oldest) when the
 * user is at the cap. Refuses, changing nothing but the pruning, when the hash would hold more
 * than HASH_MAX_FIELDS fields: a bound on what one script sweeps, whoever shares the hash.
 * KEYS: the tag's hash. ARGV: id, user id, ttl ms ('' = none), idle ms (0 = none), cap (0 = none),
 * record tail, live fingerprints.
 * Returns: { now, first (1 or 0), evicted id, ... }, or { now, -1 } when the hash is full.
 */
export const CREATE_TOKEN: LuaScript = lua('create', `
local now = server_now()
local user = ARGV[2]
local idle = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local mine = {}
local latest = sweep(now, idle, function(id, r, e)
  if r.user == user then mine[#mine + 1] = { id = id, e = e or math.huge, last = r.last, created = r.created } end
  return false
end, live_set(ARGV[7]))
local evict = 0
if cap > 0 and #mine >= cap then evict = #mine - cap + 1 end
if redis.call('HLEN', KEYS[1]) - evict >= HASH_MAX then
  keep_alive(latest)
  return { now, -1 }
end
local reply = { now, 0 }
if #mine == 0 then reply[2] = 1 end
if evict > 0 then
  table.sort(mine, function(a, b)
    if a.e ~= b.e then return a.e < b.e end
    if a.last ~= b.last then return a.last < b.last end
    if a.created ~= b.created then return a.created < b.created end
    return a.id < b.id
  end)
  for i = 1, evict do
    redis.call('HDEL', KEYS[1], mine[i].id)
    reply[#reply + 1] = mine[i].id
  end
end
local expires = ''
local r = { created = now, last = now, expires = nil }
if ARGV[3] ~= '' then
  r.expires = now + tonumber(ARGV[3])
  expires = b36(r.expires)
end
local value = b36(now) .. SEP .. expires .. SEP .. SEP .. user
if ARGV[6] ~= '' then value = value .. SEP .. ARGV[6] end
redis.call('HSET', KEYS[1], ARGV[1], value)
local e = life_end(r, idle)
if latest ~= nil then
  if e == nil then latest = nil elseif e > latest then latest = e end
end
keep_alive(latest)
return reply
`);

/**
 * Confirms a token that CREATE_TOKEN stored with a provisional lifetime, once its write is held
 * where the options ask: gives it its lifetime, then evicts the user's other tokens closest to
 * their end of life (as CREATE_TOKEN does) while the user is over the cap; prunes dead fields.
 * KEYS: the tag's hash. ARGV: id, user id, ttl ms ('' = none), idle ms (0 = none), cap (0 = none),
 * live fingerprints.
 * Returns: { 1, evicted id, ... }, or { 0 } when the token is gone (revoked meanwhile).
 */
export const CONFIRM_TOKEN: LuaScript = lua('confirm', `
local now = server_now()
local user = ARGV[2]
local idle = tonumber(ARGV[4])
local cap = tonumber(ARGV[5])
local value = redis.call('HGET', KEYS[1], ARGV[1])
local r = value and parse(value)
if not r or r.user ~= user then return { 0 } end
local e = life_end(r, idle)
if e and e <= now then return { 0 } end
r.expires = nil
local expires = ''
if ARGV[3] ~= '' then
  r.expires = r.created + tonumber(ARGV[3])
  expires = b36(r.expires)
end
local last = ''
if r.last ~= r.created then last = b36(r.last) end
local stored = b36(r.created) .. SEP .. expires .. SEP .. last .. SEP .. r.user
if r.rest ~= '' then stored = stored .. SEP .. r.rest end
redis.call('HSET', KEYS[1], ARGV[1], stored)
local mine = {}
local latest = sweep(now, idle, function(id, other, oe)
  if id ~= ARGV[1] and other.user == user then mine[#mine + 1] = { id = id, e = oe or math.huge, last = other.last, created = other.created } end
  return false
end, live_set(ARGV[6]))
local reply = { 1 }
if cap > 0 and #mine >= cap then
  table.sort(mine, function(a, b)
    if a.e ~= b.e then return a.e < b.e end
    if a.last ~= b.last then return a.last < b.last end
    if a.created ~= b.created then return a.created < b.created end
    return a.id < b.id
  end)
  for i = 1, #mine - cap + 1 do
    redis.call('HDEL', KEYS[1], mine[i].id)
    reply[#reply + 1] = mine[i].id
  end
end
keep_alive(latest)
return reply
`);

/**
 * Removes the first live token among the given ids (owned by the expected user, when one is
 * given); prunes dead fields.
 * KEYS: the tag's hash. ARGV: expected user id or '', idle ms, live fingerprints, id, ...
 * Returns: { 1-based position of the removed id, its owner }, or an empty array.
 */
export const EXPIRE_TOKEN: LuaScript = lua('expire', `
local wanted = {}
for i = 4, #ARGV do wanted[ARGV[i]] = i - 3 end
local found = nil
local latest = sweep(server_now(), tonumber(ARGV[2]), function(id, r)
  if found or not wanted[id] or (ARGV[1] ~= '' and r.user ~= ARGV[1]) then return false end
  found = { wanted[id], r.user }
  return true
end, live_set(ARGV[3]))
keep_alive(latest)
return found or {}
`);

/**
 * Removes every live token of one user, or every one but the ids to keep; prunes dead fields.
 * An id to keep whose record is another user's changes nothing: the caller passed someone
 * else's token as the user's current one.
 * KEYS: the tag's hash. ARGV: user id, idle ms, live fingerprints, id to keep, ...
 * Returns: the ids removed, or -1 when an id to keep is another user's.
 */
export const EXPIRE_USER_TOKENS: LuaScript = lua('expire-user', `
local keep = {}
for i = 4, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  local r = value and parse(value)
  if r and r.user ~= ARGV[1] then return -1 end
  keep[ARGV[i]] = true
end
local removed = {}
local latest = sweep(server_now(), tonumber(ARGV[2]), function(id, r)
  if r.user ~= ARGV[1] or keep[id] then return false end
  removed[#removed + 1] = id
  return true
end, live_set(ARGV[3]))
keep_alive(latest)
return removed
`);

/**
 * Reads every live token of one user; unless read-only, prunes dead fields on the way.
 * KEYS: the tag's hash. ARGV: user id, idle ms, live fingerprints, '1' to prune or '0' read-only.
 * Returns: { now, id, record, id, record, ... }.
 */
export const LIST_TOKENS: LuaScript = lua('list', `
local now = server_now()
local out = { now }
local readonly = ARGV[4] == '0'
local latest = sweep(now, tonumber(ARGV[2]), function(id, r, e, value)
  if r.user == ARGV[1] then
    out[#out + 1] = id
    out[#out + 1] = value
  end
  return false
end, live_set(ARGV[3]), readonly)
if not readonly then keep_alive(latest) end
return out
`);

/**
 * Prunes dead fields of one tag's hash, for the admin tools.
 * KEYS: the tag's hash. ARGV: idle ms, live fingerprints ('' = keep every pepper's).
 * Returns: how many fields were dropped.
 */
export const PRUNE_TOKENS: LuaScript = lua('prune', `
local latest, dead = sweep(server_now(), tonumber(ARGV[1]), nil, live_set(ARGV[2] or ''))
if redis.call('EXISTS', KEYS[1]) == 1 then keep_alive(latest) end
return dead
`);

/**
 * Records a use of one token, at most once per interval: sets lastUsed and, with an idle
 * timeout, lets the hash live at least until the token's new end of life. O(1): it reads and
 * writes only its own field, so a verification costs the same whatever the number of tokens.
 * KEYS: the tag's hash. ARGV: id, interval ms, idle ms (0 = none).
 * Returns: the time written; 0 when it wrote nothing because it was too soon; -1 when the
 * token is gone (revoked, dead, or not a record), which refuses the verification.
 */
export const TOUCH_TOKEN: LuaScript = lua('touch', `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return -1 end
local r = parse(value)
if not r then return -1 end
local now = server_now()
local idle = tonumber(ARGV[3])
local e = life_end(r, idle)
if e and e <= now then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return -1
end
if now - r.last < tonumber(ARGV[2]) then return 0 end
local expires = ''
if r.expires then expires = b36(r.expires) end
local stored = b36(r.created) .. SEP .. expires .. SEP .. b36(now) .. SEP .. r.user
if r.rest ~= '' then stored = stored .. SEP .. r.rest end
redis.call('HSET', KEYS[1], ARGV[1], stored)
if idle > 0 then
  r.last = now
  e = life_end(r, idle)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl >= 0 and now + ttl < e then redis.call('PEXPIREAT', KEYS[1], e) end
end
return now
`);

/**
 * Reads the server's clock, so a repository can tell how far its own clock is from it.
 * KEYS: a tag's hash, declared only so the call goes to its node; it is not read.
 * Returns: the server's time in epoch ms.
 */
export const SERVER_TIME: LuaScript = lua('time', `
return server_now()
`);

/** Every script, for the specs that check them all. */
export const ALL_SCRIPTS: readonly LuaScript[] = [CREATE_TOKEN, CONFIRM_TOKEN, EXPIRE_TOKEN, EXPIRE_USER_TOKENS, LIST_TOKENS, PRUNE_TOKENS, TOUCH_TOKEN, SERVER_TIME];
