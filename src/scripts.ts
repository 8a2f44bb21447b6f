import { createHash } from 'node:crypto';

// Every change to a user's tokens is one of these scripts, on one declared key: KEYS[1], the
// HASH of the user's routing tag. No script builds a key name, so each runs on Redis Cluster
// during resharding, on Valkey and Dragonfly, and behind proxies that refuse undeclared keys.
// They are written for Lua 5.1 and 5.4 alike (no unpack, no integer division, no goto).
//
// Times come from the server's clock (TIME), never the caller's, so app servers whose clocks
// differ agree on what has expired. A record is `created␟expires␟lastUsed␟userId[␟rest]`, times
// in base 36 (see record.ts).

/** A Lua script with its SHA1, ready for EVALSHA. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

const PRELUDE = `
local SEP = '\\31'
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
-- Reads every field of KEYS[1] and drops the dead ones. visit(id, record, end, value) may claim a
-- live field, which is then dropped too. Returns the latest end of life of what is left (nil
-- when one of them lives forever), and how many dead fields were dropped.
local function sweep(now, idle, visit)
  local all = redis.call('HGETALL', KEYS[1])
  local latest = 0
  local forever = false
  local dead = 0
  for i = 1, #all, 2 do
    local id = all[i]
    local r = parse(all[i + 1])
    if r then
      local e = life_end(r, idle)
      if e and e <= now then
        redis.call('HDEL', KEYS[1], id)
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
 * Stores a new token; prunes dead fields; evicts the user's tokens closest to their end of
 * life (then the least recently used, then the oldest) when the user is at the cap.
 * KEYS: the tag's hash. ARGV: id, user id, ttl ms ('' = none), idle ms (0 = none), cap (0 = none), record tail.
 * Returns: { now, first (1 or 0), evicted id, ... }.
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
end)
local reply = { now, 0 }
if #mine == 0 then reply[2] = 1 end
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
 * KEYS: the tag's hash. ARGV: id, user id, ttl ms ('' = none), idle ms (0 = none), cap (0 = none).
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
end)
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
 * KEYS: the tag's hash. ARGV: expected user id or '', idle ms, id, ...
 * Returns: { 1-based position of the removed id, its owner }, or an empty array.
 */
export const EXPIRE_TOKEN: LuaScript = lua('expire', `
local wanted = {}
for i = 3, #ARGV do wanted[ARGV[i]] = i - 2 end
local found = nil
local latest = sweep(server_now(), tonumber(ARGV[2]), function(id, r)
  if found or not wanted[id] or (ARGV[1] ~= '' and r.user ~= ARGV[1]) then return false end
  found = { wanted[id], r.user }
  return true
end)
keep_alive(latest)
return found or {}
`);

/**
 * Removes every live token of one user, or every one but the ids to keep; prunes dead fields.
 * KEYS: the tag's hash. ARGV: user id, idle ms, id to keep, ...
 * Returns: the ids removed.
 */
export const EXPIRE_USER_TOKENS: LuaScript = lua('expire-user', `
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local removed = {}
local latest = sweep(server_now(), tonumber(ARGV[2]), function(id, r)
  if r.user ~= ARGV[1] or keep[id] then return false end
  removed[#removed + 1] = id
  return true
end)
keep_alive(latest)
return removed
`);

/**
 * Prunes dead fields, then reads every live token of one user.
 * KEYS: the tag's hash. ARGV: user id, idle ms.
 * Returns: { now, id, record, id, record, ... }.
 */
export const LIST_TOKENS: LuaScript = lua('list', `
local now = server_now()
local out = { now }
local latest = sweep(now, tonumber(ARGV[2]), function(id, r, e, value)
  if r.user == ARGV[1] then
    out[#out + 1] = id
    out[#out + 1] = value
  end
  return false
end)
keep_alive(latest)
return out
`);

/**
 * Prunes dead fields of one tag's hash, for the admin tools.
 * KEYS: the tag's hash. ARGV: idle ms.
 * Returns: how many fields were dropped.
 */
export const PRUNE_TOKENS: LuaScript = lua('prune', `
local latest, dead = sweep(server_now(), tonumber(ARGV[1]), nil)
if redis.call('EXISTS', KEYS[1]) == 1 then keep_alive(latest) end
return dead
`);

/**
 * Records a use of one token, at most once per interval: sets lastUsed and, with an idle
 * timeout, lets the hash live at least until the token's new end of life. O(1): it reads and
 * writes only its own field, so a verification costs the same whatever the number of tokens.
 * KEYS: the tag's hash. ARGV: id, interval ms, idle ms (0 = none).
 * Returns: the time written, or 0 when it wrote nothing (too soon, dead or gone).
 */
export const TOUCH_TOKEN: LuaScript = lua('touch', `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
local r = parse(value)
if not r then return 0 end
local now = server_now()
local idle = tonumber(ARGV[3])
local e = life_end(r, idle)
if e and e <= now then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 0
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
