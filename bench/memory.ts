// Redis memory per token: INFO used_memory before and after writing N tokens, each layout on a
// fresh server of its own so nothing else shares the heap.
import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { startRedisServer } from '../spec/support/redis-server.js';
import { BEARER_PREFIX, DEVICE, bearerRecord, oursRepository, plainClient, sha256Hex } from './contenders.js';
import { forEachConcurrently } from './measure.js';
import { usedMemory } from './redis-info.js';

const TTL_SECONDS = 14 * 86400;
const FILL_CONCURRENCY = 128;

/** One layout's cost. */
export interface MemoryRow {
  key: string;
  label: string;
  tokens: number;
  users: number;
  bytes: number;
  bytesPerToken: number;
  /** What the layout can do without scanning the keyspace. */
  canListAndRevokeAll: boolean;
}

interface Layout {
  key: string;
  label: string;
  tokensPerUser: number;
  canListAndRevokeAll: boolean;
  fill: (client: RedisClientType, tokens: number, tokensPerUser: number) => Promise<void>;
}

const userOf = (i: number, tokensPerUser: number): string => `user-${Math.floor(i / tokensPerUser)}`;

async function fillOurs(client: RedisClientType, tokens: number, tokensPerUser: number): Promise<void> {
  // The default key prefix, as an app that configures nothing stores its tokens.
  const repository = oursRepository(client, { keyPrefix: 'rmt:' });
  await forEachConcurrently(tokens, FILL_CONCURRENCY, (i) => repository.createToken({ id: userOf(i, tokensPerUser) }, { device: DEVICE }));
}

async function fillPlain(client: RedisClientType, tokens: number, tokensPerUser: number, indexed: boolean): Promise<void> {
  const now = Date.now();
  await forEachConcurrently(tokens, FILL_CONCURRENCY, async (i) => {
    const userId = userOf(i, tokensPerUser);
    const digest = sha256Hex(randomBytes(32).toString('base64url'));
    await client.set(BEARER_PREFIX + digest, bearerRecord(userId, now), { EX: TTL_SECONDS });
    if (indexed) {
      const index = `${BEARER_PREFIX}u:${userId}`;
      await client.sAdd(index, digest);
      await client.expire(index, TTL_SECONDS);
    }
  });
}

const LAYOUTS: readonly Layout[] = [
  { key: 'ours-10', label: 'ours: HASH per token + ZSET per user (10 tokens per user)', tokensPerUser: 10, canListAndRevokeAll: true, fill: fillOurs },
  { key: 'ours-1', label: 'ours: HASH per token + ZSET per user (1 token per user)', tokensPerUser: 1, canListAndRevokeAll: true, fill: fillOurs },
  {
    key: 'plain',
    label: 'plain: SET of a JSON user per token, no index',
    tokensPerUser: 10,
    canListAndRevokeAll: false,
    fill: (client, tokens, perUser) => fillPlain(client, tokens, perUser, false),
  },
  {
    key: 'plain-indexed',
    label: 'plain + a SET of digests per user (10 tokens per user)',
    tokensPerUser: 10,
    canListAndRevokeAll: true,
    fill: (client, tokens, perUser) => fillPlain(client, tokens, perUser, true),
  },
];

/** Bytes per token of each layout at `tokens` tokens. */
export async function benchMemory(tokens: number, log: (line: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const layout of LAYOUTS) {
    const server = await startRedisServer();
    const client = await plainClient(server.url);
    try {
      const before = await usedMemory(client);
      await layout.fill(client, tokens, layout.tokensPerUser);
      const after = await usedMemory(client);
      const bytes = after - before;
      const users = Math.ceil(tokens / layout.tokensPerUser);
      rows.push({
        key: layout.key,
        label: layout.label,
        tokens,
        users,
        bytes,
        bytesPerToken: bytes / tokens,
        canListAndRevokeAll: layout.canListAndRevokeAll,
      });
      log(`  ${layout.key}: ${(bytes / tokens).toFixed(0)} bytes per token (${tokens} tokens, ${users} users)`);
    } finally {
      await client.close();
      await server.stop();
    }
  }
  return rows;
}
