import { lua, type LuaScript } from './lua.js';

// The two scripts of token rotation (rotation.ts), on KEYS[1] only, like every other script.

/**
 * Rotation: issues the successor of a live family head, with its user, scopes, device and meta,
 * in its family; the old token turns rotated-away and authenticates until its grace ends (with
 * detection off, it expires then). Keeps the newest `kept` rotated-away tokens of the family;
 * never evicts. Prunes dead fields.
 * KEYS: the tag's hash. ARGV: expected user id or '', idle ms, new id, ttl ms ('' = none),
 * grace ms, detection ('1' or '0'), kept, live fingerprints, current id, ...
 * Returns: { now, 1, old id, old record } when rotated; { now, 2, id, user id } for a token
 * rotated away whose grace is over (a reuse); { now } for anything else.
 */
export const ROTATE_TOKEN: LuaScript = lua('rotate', `
local now = server_now()
local idle = tonumber(ARGV[2])
local id, value, r = nil, nil, nil
local live = live_set(ARGV[8])
for i = 9, #ARGV do
  local v = (not live or live[string.sub(ARGV[i], 1, FP_LENGTH)]) and redis.call('HGET', KEYS[1], ARGV[i])
  local p = v and parse(v)
  local e = p and life_end(p, idle)
  if p and (ARGV[1] == '' or p.user == ARGV[1]) and (not e or e > now) then
    id, value, r = ARGV[i], v, p
    break
  end
end
if not id then return { now } end
local family, grace = rotation_of(id, r)
if grace and grace <= now then return { now, 2, id, r.user } end
if grace then return { now } end
local older = {}
local latest = sweep(now, idle, function(other, o)
  local f, g = rotation_of(other, o)
  if o.user == r.user and f == family and g then older[#older + 1] = { id = other, grace = g } end
  return false
end, live)
table.sort(older, function(a, b) return a.grace > b.grace end)
for i = tonumber(ARGV[7]), #older do redis.call('HDEL', KEYS[1], older[i].id) end
local tail = SEP .. r.user .. SEP .. string.match(r.rest .. SEP .. SEP .. SEP, '^([^\\31]*\\31[^\\31]*\\31[^\\31]*\\31)')
local grace_end = now + tonumber(ARGV[5])
local expires, last, stored = r.expires, '', ''
if ARGV[6] ~= '1' and (not expires or grace_end < expires) then expires = grace_end end
if expires then expires = b36(expires) else expires = '' end
if r.last ~= r.created then last = b36(r.last) end
if family ~= id then stored = family end
redis.call('HSET', KEYS[1], id, b36(r.created) .. SEP .. expires .. SEP .. last .. tail .. stored .. '!' .. b36(grace_end))
local n = { created = now, last = now, expires = nil }
if ARGV[4] ~= '' then n.expires = now + tonumber(ARGV[4]) end
expires = n.expires and b36(n.expires) or ''
redis.call('HSET', KEYS[1], ARGV[3], b36(now) .. SEP .. expires .. SEP .. tail .. family)
local e = life_end(n, idle)
if latest ~= nil then
  if e == nil then latest = nil elseif e > latest then latest = e end
end
keep_alive(latest)
return { now, 1, id, value }
`);

/**
 * Rotation: revokes a whole family at once when one of its rotated-away tokens is used after its
 * grace (a reuse). KEYS: the tag's hash. ARGV: idle ms, id of the token used, its user id, live
 * fingerprints.
 * Returns: { 2, family, head id removed, ... } when revoked; { 1 } while the token is in its
 * grace by the server's clock; { 0 } when it is gone or not rotated away.
 */
export const REVOKE_FAMILY: LuaScript = lua('reuse', `
local now = server_now()
local idle = tonumber(ARGV[1])
local value = redis.call('HGET', KEYS[1], ARGV[2])
local r = value and parse(value)
if not r or r.user ~= ARGV[3] then return { 0 } end
local e, family, grace = life_end(r, idle), rotation_of(ARGV[2], r)
if not grace or (e and e <= now) then return { 0 } end
if grace > now then return { 1 } end
local reply = { 2, family }
local latest = sweep(now, idle, function(id, o)
  if o.user ~= r.user then return false end
  local f, g = rotation_of(id, o)
  if f ~= family then return false end
  if not g then reply[#reply + 1] = id end
  return true
end, live_set(ARGV[4]))
keep_alive(latest)
return reply
`);

/**
 * Rotation: undoes a rotation whose wait (replicas, durable) failed, so its successor never
 * reached the caller: the successor goes, and the old token gets back the record it had.
 * KEYS: the tag's hash. ARGV: old id, new id, the old record as it was.
 * Returns: 1 when undone; 0 when the old token is gone (revoked meanwhile), changing nothing.
 */
export const UNROTATE_TOKEN: LuaScript = lua('unrotate', `
if not redis.call('HGET', KEYS[1], ARGV[1]) then return 0 end
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`);
