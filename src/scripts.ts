import { createHash } from 'node:crypto';

// Every multi-key change is one of these scripts. A script only touches keys of one hash tag:
// the keys it builds from ARGV (a user's index, an evicted token) carry the same `{tag}` as
// KEYS[1], so they live in the same cluster slot.

/** A Lua script with its SHA1, ready for EVALSHA. */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  readonly sha1: string;
}

/**
 * Index scores at or above this mark mean "no expiry". Such a score is the mark plus the
 * creation time, so tokens without a lifetime still evict oldest first.
 */
export const NO_EXPIRY_SCORE = 1e15;

// Drops index entries whose end of life has passed, then keeps the index alive exactly as
// long as its longest-lived token.
const TIDY_INDEX = `
local function tidy_index(index, now)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if #top == 0 then return end
  local score = tonumber(top[2])
  if score >= ${NO_EXPIRY_SCORE} then
    redis.call('PERSIST', index)
  else
    redis.call('PEXPIREAT', index, math.ceil(score))
  end
end
`;

function lua(name: string, body: string): LuaScript {
  // Normalised so that re-indenting the source here does not change the SHA.
  const source = (TIDY_INDEX + body)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('--'))
    .join('\n');
  return { name, source, sha1: createHash('sha1').update(source).digest('hex') };
}

/**
 * Stores a new token and indexes it; prunes dead entries; evicts the entries closest to their
 * end of life when the user is at the cap. Index entries whose record vanished outside these
 * scripts (maxmemory eviction, a manual DEL) are dropped when met at the front, so they
 * neither make `first` false nor get reported as evicted.
 * KEYS: index, token. ARGV: now, id, token key prefix, score, cap (0 = none), field, value, ...
 * Returns: { first (1 or 0), evicted id, ... }.
 */
export const CREATE_TOKEN: LuaScript = lua('create', `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local first = 1
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then break end
  if redis.call('EXISTS', ARGV[3] .. head[1]) == 1 then
    first = 0
    break
  end
  redis.call('ZREM', KEYS[1], head[1])
end
local reply = { first }
local cap = tonumber(ARGV[5])
local over = redis.call('ZCARD', KEYS[1]) - cap + 1
if cap > 0 and over > 0 then
  local ids = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  for i = 1, #ids do
    if redis.call('DEL', ARGV[3] .. ids[i]) == 1 then reply[#reply + 1] = ids[i] end
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
end
redis.call('HSET', KEYS[2], unpack(ARGV, 6))
local score = tonumber(ARGV[4])
if score < ${NO_EXPIRY_SCORE} then redis.call('PEXPIREAT', KEYS[2], math.ceil(score)) end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
tidy_index(KEYS[1], now)
return reply
`);

/**
 * Removes the first token of KEYS that exists (and belongs to the expected user, when one is
 * given) and its index entry.
 * KEYS: candidate token keys. ARGV: index key prefix, expected user id or '', now, id of each key, ...
 * Returns: { 1-based position of the removed key, its owner }, or an empty array.
 */
export const EXPIRE_TOKEN: LuaScript = lua('expire', `
for i = 1, #KEYS do
  local owner = redis.call('HGET', KEYS[i], 'u')
  if owner and (ARGV[2] == '' or owner == ARGV[2]) then
    redis.call('DEL', KEYS[i])
    local index = ARGV[1] .. owner
    redis.call('ZREM', index, ARGV[3 + i])
    tidy_index(index, ARGV[3])
    return { i, owner }
  end
end
return {}
`);

/**
 * Removes every token of one user, or every token but the ones to keep.
 * KEYS: index. ARGV: token key prefix, now, id to keep, ...
 * Returns: the ids of the tokens that were live and are now gone.
 */
export const EXPIRE_USER_TOKENS: LuaScript = lua('expire-user', `
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = {}
for i = 1, #ids do
  if not keep[ids[i]] then
    if redis.call('DEL', ARGV[1] .. ids[i]) == 1 then removed[#removed + 1] = ids[i] end
    if #ARGV > 2 then redis.call('ZREM', KEYS[1], ids[i]) end
  end
end
if #ARGV == 2 then redis.call('DEL', KEYS[1]) else tidy_index(KEYS[1], ARGV[2]) end
return removed
`);

/**
 * Prunes dead index entries, then reads every live token record of one user.
 * KEYS: index. ARGV: token key prefix, now.
 * Returns: { id, { field, value, ... }, id, { ... }, ... }.
 */
export const LIST_TOKENS: LuaScript = lua('list', `
tidy_index(KEYS[1], ARGV[2])
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for i = 1, #ids do
  local fields = redis.call('HGETALL', ARGV[1] .. ids[i])
  if #fields > 0 then
    out[#out + 1] = ids[i]
    out[#out + 1] = fields
  end
end
return out
`);

/**
 * Records a use of a token, at most once per interval: sets lastUsedAt and, with an idle
 * timeout, moves the token's end of life (never past its absolute expiry).
 * KEYS: token, index. ARGV: now, interval ms, idle ms (0 = none), id.
 * Returns: 1 when it wrote, else 0.
 */
export const TOUCH_TOKEN: LuaScript = lua('touch', `
local now = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'l') or redis.call('HGET', KEYS[1], 'c'))
if not last or now - last < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'l', ARGV[1])
local idle = tonumber(ARGV[3])
if idle > 0 then
  local score = now + idle
  local expires = tonumber(redis.call('HGET', KEYS[1], 'e'))
  if expires and expires < score then score = expires end
  redis.call('PEXPIREAT', KEYS[1], math.ceil(score))
  redis.call('ZADD', KEYS[2], 'XX', score, ARGV[4])
  tidy_index(KEYS[2], now)
end
return 1
`);
