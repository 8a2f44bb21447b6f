import { lua, type LuaScript } from './lua.js';
import { REVOKE_FAMILY, ROTATE_TOKEN, UNROTATE_TOKEN } from './rotation-scripts.js';

export type { LuaScript } from './lua.js';
export { REVOKE_FAMILY, ROTATE_TOKEN, UNROTATE_TOKEN } from './rotation-scripts.js';

// Every change to a user's tokens is one of these scripts, on one declared key: KEYS[1], the
// HASH of the user's routing tag. No script builds a key name, so each runs on Redis Cluster
// during resharding, on Valkey and Dragonfly, and behind proxies that refuse undeclared keys.
// They are written for Lua 5.1 and 5.4 alike (no unpack, no integer division, no goto).
//
// Times come from the server's clock (TIME), never the caller's, so app servers whose clocks
// differ agree on what has expired. A record is `created␟expires␟lastUsed␟userId[␟rest]`, times
// in base 36 (see record.ts). A field's name, the token id, starts with the fingerprint of its
// pepper (token.ts): the write scripts drop the fields of a pepper no longer listed.

/**
 * Stores a new token; prunes dead fields (and those of dropped peppers); evicts the user's
 * tokens closest to their end of life (then the least recently used, then the oldest) when the
 * user is at the cap. Rotated-away tokens are not counted, and go with their family's evicted
 * head. Refuses, changing nothing but the pruning, when the hash would hold more than
 * HASH_MAX_FIELDS fields: a bound on what one script sweeps, whoever shares the hash.
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
local rotated = {}
local latest = sweep(now, idle, function(id, r, e)
  if r.user == user then add_device(mine, rotated, id, r, e) end
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
if evict > 0 then evict_devices(mine, rotated, evict, reply) end
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
local rotated = {}
local latest = sweep(now, idle, function(id, other, oe)
  if id ~= ARGV[1] and other.user == user then add_device(mine, rotated, id, other, oe) end
  return false
end, live_set(ARGV[6]))
local reply = { 1 }
if cap > 0 and #mine >= cap then evict_devices(mine, rotated, #mine - cap + 1, reply) end
keep_alive(latest)
return reply
`);

/**
 * Removes the first live token among the given ids (owned by the expected user, when one is
 * given), with the rest of its family (rotation: one device); prunes dead fields.
 * KEYS: the tag's hash. ARGV: expected user id or '', idle ms, live fingerprints, id, ...
 * Returns: { 1-based position of the removed id, its owner, other family heads removed, ... },
 * or an empty array.
 */
export const EXPIRE_TOKEN: LuaScript = lua('expire', `
local now = server_now()
local idle = tonumber(ARGV[2])
local live = live_set(ARGV[3])
local found, family = nil, nil
for i = 4, #ARGV do
  local value = (not live or live[string.sub(ARGV[i], 1, FP_LENGTH)]) and redis.call('HGET', KEYS[1], ARGV[i])
  local r = value and parse(value)
  local e = r and life_end(r, idle)
  if r and (ARGV[1] == '' or r.user == ARGV[1]) and (not e or e > now) then
    found = { i - 3, r.user }
    family = rotation_of(ARGV[i], r)
    break
  end
end
local latest = sweep(now, idle, function(id, r)
  if not found or r.user ~= found[2] then return false end
  local f, grace = rotation_of(id, r)
  if f ~= family then return false end
  if not grace and id ~= ARGV[found[1] + 3] then found[#found + 1] = id end
  return true
end, live_set(ARGV[3]))
keep_alive(latest)
return found or {}
`);

/**
 * Removes every live token of one user, or every one but the ids to keep and their families;
 * prunes dead fields. An id to keep whose record is another user's changes nothing: the caller
 * passed someone else's token as the user's current one.
 * KEYS: the tag's hash. ARGV: user id, idle ms, live fingerprints, id to keep, ...
 * Returns: the ids removed, rotated-away tokens left out (one per device), or -1 when an id to
 * keep is another user's.
 */
export const EXPIRE_USER_TOKENS: LuaScript = lua('expire-user', `
local keep = {}
for i = 4, #ARGV do
  local value = redis.call('HGET', KEYS[1], ARGV[i])
  local r = value and parse(value)
  if r and r.user ~= ARGV[1] then return -1 end
  if r then keep[rotation_of(ARGV[i], r)] = true end
end
local removed = {}
local latest = sweep(server_now(), tonumber(ARGV[2]), function(id, r)
  if r.user ~= ARGV[1] then return false end
  local family, grace = rotation_of(id, r)
  if keep[family] then return false end
  if not grace then removed[#removed + 1] = id end
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
export const ALL_SCRIPTS: readonly LuaScript[] = [CREATE_TOKEN, CONFIRM_TOKEN, EXPIRE_TOKEN, EXPIRE_USER_TOKENS, LIST_TOKENS, PRUNE_TOKENS, TOUCH_TOKEN, SERVER_TIME, ROTATE_TOKEN, REVOKE_FAMILY, UNROTATE_TOKEN];
