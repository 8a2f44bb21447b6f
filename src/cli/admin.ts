import { ANY_TAG, tagKey, tagOfKey } from '../keys.js';
import { decodeRecord, endOfLife } from '../record.js';
import { badReply, normaliseInteger, normaliseString, normaliseStrings } from '../replies.js';
import { runScript } from '../run-script.js';
import { LIST_TOKENS, PRUNE_TOKENS } from '../scripts.js';
import { routingTag } from '../token.js';
import { listedTokens } from '../token-info.js';
import type { ListedToken } from '../types.js';
import type { AdminConnection, ServerConnection } from './connection.js';

// The admin work that has to walk the whole key space: stats and prune. Only the CLI runs it,
// never a request path. It finds the tag hashes with SCAN (MATCH and COUNT, never KEYS), on
// every master of a cluster, and reads and changes each hash on its own.

/** How many keys each SCAN call asks for. */
const SCAN_COUNT = 1000;

/** How far a walk over the key space has got, for a progress display. */
export interface ScanProgress {
  /** Servers (masters) walked to the end so far. */
  serversDone: number;
  /** Servers to walk: 1, or the masters of a cluster. */
  servers: number;
  /** Tag hashes found so far. */
  keys: number;
}

/** Options of {@link collectStats} and {@link pruneTokens}. */
export interface WalkOptions {
  /** The repository's `keyPrefix`. */
  prefix: string;
  /** Idle timeout in ms to apply, or null for none. */
  idleMs: number | null;
  /** Called after each SCAN batch. */
  onProgress?: (progress: ScanProgress) => void;
}

/** The time-left buckets of {@link TokenStats}: each holds what the previous one does not. */
export const TIME_LEFT_BUCKETS: readonly ['<1h', '<1d', '<7d', '<30d', 'longer', 'never'] = ['<1h', '<1d', '<7d', '<30d', 'longer', 'never'];

/** One of {@link TIME_LEFT_BUCKETS}. */
export type TimeLeftBucket = (typeof TIME_LEFT_BUCKETS)[number];

const HOUR = 3_600_000;
const BUCKET_LIMITS: readonly [TimeLeftBucket, number][] = [
  ['<1h', HOUR],
  ['<1d', 24 * HOUR],
  ['<7d', 7 * 24 * HOUR],
  ['<30d', 30 * 24 * HOUR],
];

/** What {@link collectStats} counts. */
export interface TokenStats {
  /** Servers walked: 1, or the masters of a cluster. */
  servers: number;
  /** Tag hashes under the prefix. */
  keys: number;
  /** Users with at least one live token. */
  users: number;
  /** Live tokens. */
  tokens: number;
  /** Live tokens by time left until their end of life (absolute, or idle with `idleMs`). */
  byTimeLeft: Record<TimeLeftBucket, number>;
  /** Dead tokens still stored, which `prune` would remove. */
  expired: number;
  /** Fields that are not a record of this package (left alone). */
  unreadable: number;
  /** Sum of MEMORY USAGE of the tag hashes, in bytes. */
  memoryBytes: number;
}

/** What {@link pruneTokens} did. */
export interface PruneResult {
  /** Servers walked: 1, or the masters of a cluster. */
  servers: number;
  /** Tag hashes under the prefix. */
  keys: number;
  /** Hashes that held at least one dead token. */
  keysPruned: number;
  /** Dead tokens removed. */
  removed: number;
}

/** The SCAN MATCH pattern of every tag hash under `prefix`: `<prefix>{???…}`, the prefix escaped. */
export function tagKeyPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}{${ANY_TAG}}`;
}

/** One SCAN batch of tag hashes, and the server they were found on. */
export interface TagKeyBatch {
  server: ServerConnection;
  keys: string[];
}

/**
 * Every tag hash under `prefix`, in SCAN batches, server by server (on a cluster, every
 * master). A key SCAN returns twice is given once.
 */
export async function* scanTagKeys(
  servers: readonly ServerConnection[],
  prefix: string,
  onProgress?: (progress: ScanProgress) => void,
): AsyncGenerator<TagKeyBatch, void, undefined> {
  const pattern = tagKeyPattern(prefix);
  let found = 0;
  for (const [index, server] of servers.entries()) {
    // Keys are unique per server, so the set of those seen is per server too.
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const reply = await server.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(SCAN_COUNT), 'TYPE', 'hash']);
      if (!Array.isArray(reply) || reply.length !== 2) throw badReply('SCAN');
      const next = normaliseString(reply[0], 'SCAN');
      if (next === null) throw badReply('SCAN');
      cursor = next;
      const keys: string[] = [];
      for (const key of normaliseStrings(reply[1], 'SCAN')) {
        if (tagOfKey(prefix, key) === null || seen.has(key)) continue;
        seen.add(key);
        keys.push(key);
      }
      found += keys.length;
      if (keys.length > 0) yield { server, keys };
      onProgress?.({ serversDone: cursor === '0' ? index + 1 : index, servers: servers.length, keys: found });
    } while (cursor !== '0');
  }
}

/** The server's clock in epoch ms: what the scripts stamp records with. */
async function serverNow(server: ServerConnection): Promise<number> {
  const reply = normaliseStrings(await server.send(['TIME']), 'TIME');
  if (reply.length !== 2) throw badReply('TIME');
  return normaliseInteger(reply[0], 'TIME') * 1000 + Math.floor(normaliseInteger(reply[1], 'TIME') / 1000);
}

/** The values of an HGETALL reply: a flat array (RESP2), or the map node-redis may make of it. */
function hashValues(reply: unknown): string[] {
  if (Array.isArray(reply)) return normaliseStrings(reply, 'HGETALL').filter((_, i) => i % 2 === 1);
  if (reply instanceof Map) return normaliseStrings([...(reply as Map<unknown, unknown>).values()], 'HGETALL');
  if (typeof reply === 'object' && reply !== null) return normaliseStrings(Object.values(reply), 'HGETALL');
  throw badReply('HGETALL');
}

function emptyBuckets(): Record<TimeLeftBucket, number> {
  return { '<1h': 0, '<1d': 0, '<7d': 0, '<30d': 0, longer: 0, never: 0 };
}

function bucketOf(left: number): TimeLeftBucket {
  if (left === Infinity) return 'never';
  for (const [bucket, limit] of BUCKET_LIMITS) if (left < limit) return bucket;
  return 'longer';
}

/**
 * Counts the hashes, users and tokens under the prefix, live tokens by time left, dead
 * tokens awaiting a prune, and the memory of the hashes. Read-only.
 */
export async function collectStats(connection: AdminConnection, options: WalkOptions): Promise<TokenStats> {
  const servers = await connection.servers();
  const stats: TokenStats = {
    servers: servers.length,
    keys: 0,
    users: 0,
    tokens: 0,
    byTimeLeft: emptyBuckets(),
    expired: 0,
    unreadable: 0,
    memoryBytes: 0,
  };
  for await (const { server, keys } of scanTagKeys(servers, options.prefix, options.onProgress)) {
    // The records carry the clock of the server that wrote them.
    const now = await serverNow(server);
    const replies = await Promise.all(
      keys.map((key) =>
        Promise.all([
          connection.sendForKey(key, ['HGETALL', key], true),
          connection.sendForKey(key, ['MEMORY', 'USAGE', key, 'SAMPLES', '0'], true),
        ]),
      ),
    );
    for (const [fieldsReply, memoryReply] of replies) {
      const records = hashValues(fieldsReply);
      // Gone between SCAN and now: expired, or emptied by a script.
      if (records.length === 0 || memoryReply === null) continue;
      stats.keys += 1;
      stats.memoryBytes += normaliseInteger(memoryReply, 'MEMORY USAGE');
      const users = new Set<string>();
      for (const value of records) {
        let record;
        try {
          record = decodeRecord(value, 'HGETALL');
        } catch {
          stats.unreadable += 1;
          continue;
        }
        const left = endOfLife(record, options.idleMs) - now;
        if (left <= 0) {
          stats.expired += 1;
          continue;
        }
        stats.tokens += 1;
        stats.byTimeLeft[bucketOf(left)] += 1;
        users.add(record.userId);
      }
      // A user's tokens all live in the hash of the user's tag, so no user is counted twice.
      stats.users += users.size;
    }
  }
  return stats;
}

/**
 * Removes the dead tokens under the prefix (with `idleMs`, the idle ones too): PRUNE_TOKENS
 * on each hash, which also sets the hash's expiry to its longest-lived token.
 */
export async function pruneTokens(connection: AdminConnection, options: WalkOptions): Promise<PruneResult> {
  const servers = await connection.servers();
  const result: PruneResult = { servers: servers.length, keys: 0, keysPruned: 0, removed: 0 };
  // '' keeps every pepper's tokens: the CLI knows no pepper, so it drops none for being unlisted.
  const idle = String(options.idleMs ?? 0);
  for await (const { keys } of scanTagKeys(servers, options.prefix, options.onProgress)) {
    const counts = await Promise.all(
      keys.map(async (key) =>
        normaliseInteger(await runScript(connection.store, connection.deadline, PRUNE_TOKENS, [key], [idle, '']), 'EVALSHA prune'),
      ),
    );
    result.keys += keys.length;
    for (const count of counts) {
      if (count > 0) result.keysPruned += 1;
      result.removed += count;
    }
  }
  return result;
}

/**
 * The live tokens of one user, newest first, read-only: unlike the repository's `listTokens`,
 * it removes nothing, dead tokens included, so an operator's `--idle-timeout` only hides. It
 * knows no pepper, so it shows the tokens of every pepper, a dropped one's included.
 */
export async function listUserTokens(connection: AdminConnection, prefix: string, userId: string, idleMs: number | null): Promise<ListedToken[]> {
  const key = tagKey(prefix, routingTag(userId));
  const reply = await runScript(connection.store, connection.deadline, LIST_TOKENS, [key], [userId, String(idleMs ?? 0), '', '0']);
  return listedTokens(reply, []);
}
