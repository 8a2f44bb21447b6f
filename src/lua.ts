import { createHash } from 'node:crypto';
import { HASH_MAX_FIELDS } from './keys.js';
import { FINGERPRINT_LENGTH } from './token.js';

// The Lua prelude every script shares (record parsing, the sweep of dead fields, the hash's
// expiry, rotation's record part) and the function that turns a script body into a LuaScript
// with its SHA1. The scripts themselves are in scripts.ts and rotation-scripts.ts.

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
-- Rotation: a record's 8th part (see record.ts). The family of a token (its own id when none is
-- stored), and for a rotated-away token the end of its grace, else nil.
local function rotation_of(id, r)
  local rot = string.match(r.rest, '^[^\\31]*\\31[^\\31]*\\31[^\\31]*\\31([^\\31]*)') or ''
  local family, grace = string.match(rot, '^([^!]*)!(%w+)$')
  if not family then family = rot end
  if family == '' then family = id end
  if grace then return family, tonumber(grace, 36) end
  return family, nil
end
-- The user's devices, for the cap: a family head is a device; a rotated-away token is none, and
-- goes with its family's head when that is evicted.
local function add_device(mine, rotated, id, r, e)
  local family, grace = rotation_of(id, r)
  if grace then rotated[#rotated + 1] = { id = id, family = family }
  else mine[#mine + 1] = { id = id, e = e or math.huge, last = r.last, created = r.created, family = family } end
end
-- Evicts COUNT devices closest to their end of life (then the least recently used, then the
-- oldest), each with its family; appends the evicted heads to REPLY.
local function evict_devices(mine, rotated, count, reply)
  table.sort(mine, function(a, b)
    if a.e ~= b.e then return a.e < b.e end
    if a.last ~= b.last then return a.last < b.last end
    if a.created ~= b.created then return a.created < b.created end
    return a.id < b.id
  end)
  local evicted = {}
  for i = 1, count do
    redis.call('HDEL', KEYS[1], mine[i].id)
    reply[#reply + 1] = mine[i].id
    evicted[mine[i].family] = true
  end
  for i = 1, #rotated do
    if evicted[rotated[i].family] then redis.call('HDEL', KEYS[1], rotated[i].id) end
  end
end
`;

/** A script body, after the shared prelude, as a LuaScript with its SHA1. */
export function lua(name: string, body: string): LuaScript {
  // Normalised so that re-indenting the source here does not change the SHA.
  const source = (PRELUDE + body)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('--'))
    .join('\n');
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
}
