// Redis memory per token: INFO used_memory before and after writing N tokens, each layout on a
// fresh server of its own so nothing else shares the heap; then MEMORY USAGE and OBJECT
// ENCODING of a sample of the keys written, for where the bytes go.
import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { startRedisServer } from '../spec/support/redis-server.js';
import { BEARER_PREFIX, DEVICE, USER_AGENT, bearerRecord, oursRepository, plainClient, sha256Hex } from './contenders.js';
import { forEachConcurrently } from './measure.js';
import { keys as keyMath, token as tokenMath } from './package.js';
import { usedMemory } from './redis-info.js';

const TTL_SECONDS = 14 * 86400;
const FILL_CONCURRENCY = 128;
/** Keys whose MEMORY USAGE and encoding are read after the fill. */
const SAMPLE_USERS = 200;
/** The key prefix of an app that configures nothing. */
const OURS_PREFIX = 'rmt:';

/** One layout's cost. */
export interface MemoryRow {
  key: string;
  label: string;
  tokens: number;
  users: number;
  /** The device label stored with each token. */
  device: string;
  /** Growth of `used_memory` over the fill, in bytes. */
  bytes: number;
  bytesPerToken: number;
  /** MEMORY USAGE (SAMPLES 0) of the sampled keys, per token they hold. */
  keyBytesPerToken: number;
  /** OBJECT ENCODING of the sampled keys, with how many had each. */
  encodings: Record<string, number>;
  /** Length in bytes of one stored value (our record, or the plain layout's JSON). */
  valueBytes: number;
  /** What the layout can do without scanning the keyspace. */
  canListAndRevokeAll: boolean;
}

interface Layout {
  key: string;
  label: string;
  tokensPerUser: number;
  device: string;
  canListAndRevokeAll: boolean;
  fill: (client: RedisClientType, tokens: number, layout: Layout) => Promise<void>;
  /** The keys that hold a sampled user's tokens (and index), for MEMORY USAGE. */
  keysOf: (client: RedisClientType, userId: string) => Promise<string[]>;
}

const userOf = (i: number, tokensPerUser: number): string => `user-${Math.floor(i / tokensPerUser)}`;

async function fillOurs(client: RedisClientType, tokens: number, layout: Layout): Promise<void> {
  // With no cap: the default of 100 per user never bites at these counts, but say so.
  const repository = oursRepository(client, { keyPrefix: OURS_PREFIX, maxTokensPerUser: null });
  await forEachConcurrently(tokens, FILL_CONCURRENCY, (i) =>
    repository.createToken({ id: userOf(i, layout.tokensPerUser) }, { device: layout.device }),
  );
}

const oursKey = (userId: string): string => keyMath.tagKey(OURS_PREFIX, tokenMath.routingTag(userId));

async function fillPlain(client: RedisClientType, tokens: number, layout: Layout, indexed: boolean): Promise<void> {
  const now = Date.now();
  await forEachConcurrently(tokens, FILL_CONCURRENCY, async (i) => {
    const userId = userOf(i, layout.tokensPerUser);
    const digest = sha256Hex(randomBytes(32).toString('base64url'));
    await client.set(BEARER_PREFIX + digest, bearerRecord(userId, now, layout.device), { EX: TTL_SECONDS });
    if (indexed) {
      const index = `${BEARER_PREFIX}u:${userId}`;
      await client.sAdd(index, digest);
      await client.expire(index, TTL_SECONDS);
    }
  });
}

function oursLayout(tokensPerUser: number, device: string, deviceName: string): Layout {
  const perUser = tokensPerUser === 1 ? '1 token per user' : `${tokensPerUser} tokens per user`;
  return {
    key: `ours-${tokensPerUser}${device === DEVICE ? '' : '-ua'}`,
    label: `ours: one HASH per user (${perUser}), ${deviceName}`,
    tokensPerUser,
    device,
    canListAndRevokeAll: true,
    fill: fillOurs,
    keysOf: (_client, userId) => Promise.resolve([oursKey(userId)]),
  };
}

async function plainIndexedKeysOf(client: RedisClientType, userId: string): Promise<string[]> {
  const index = `${BEARER_PREFIX}u:${userId}`;
  const digests = await client.sMembers(index);
  return [index, ...digests.map((digest) => BEARER_PREFIX + digest)];
}

// Without an index nothing leads from a user to their keys: sample any key instead.
async function anyKey(client: RedisClientType): Promise<string[]> {
  const key: unknown = await client.randomKey();
  return typeof key === 'string' ? [key] : [];
}

const LAYOUTS: readonly Layout[] = [
  oursLayout(10, DEVICE, 'short device label'),
  oursLayout(1, DEVICE, 'short device label'),
  oursLayout(10, USER_AGENT, 'a browser User-Agent as label'),
  oursLayout(1, USER_AGENT, 'a browser User-Agent as label'),
    {
      key: 'plain',
      label: 'plain: SET of a JSON user per token, no index (10 tokens per user)',
      tokensPerUser: 10,
      device: DEVICE,
      canListAndRevokeAll: false,
      fill: (client, tokens, layout) => fillPlain(client, tokens, layout, false),
      keysOf: anyKey,
    },
    {
      key: 'plain-indexed',
      label: 'plain + a SET of digests per user (10 tokens per user)',
      tokensPerUser: 10,
      device: DEVICE,
      canListAndRevokeAll: true,
      fill: (client, tokens, layout) => fillPlain(client, tokens, layout, true),
      keysOf: plainIndexedKeysOf,
    },
];

async function sampleKeys(client: RedisClientType, layout: Layout, users: number): Promise<{ bytesPerToken: number; encodings: Record<string, number>; valueBytes: number }> {
  let bytes = 0;
  let tokens = 0;
  let valueBytes = 0;
  const encodings: Record<string, number> = {};
  const step = Math.max(1, Math.floor(users / SAMPLE_USERS));
  for (let u = 0; u < users; u += step) {
    const userKeys = await layout.keysOf(client, `user-${u}`);
    for (const key of userKeys) {
      bytes += (await client.memoryUsage(key, { SAMPLES: 0 })) ?? 0;
      const encoding = (await client.objectEncoding(key)) ?? 'none';
      encodings[encoding] = (encodings[encoding] ?? 0) + 1;
      const type = await client.type(key);
      if (type === 'hash') {
        const fields = await client.hGetAll(key);
        // A tag's hash may hold another user's tokens too (a tag collision): count them all.
        tokens += Object.keys(fields).length;
        valueBytes ||= Buffer.byteLength(Object.values(fields)[0] ?? '');
      } else if (type === 'string') {
        tokens += 1;
        valueBytes ||= Buffer.byteLength((await client.get(key)) ?? '');
      }
    }
  }
  return { bytesPerToken: tokens === 0 ? Number.NaN : bytes / tokens, encodings, valueBytes };
}

/** Bytes per token of each layout at `tokens` tokens. */
export async function benchMemory(tokens: number, log: (line: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const layout of LAYOUTS) {
    const server = await startRedisServer();
    const client = await plainClient(server.url);
    try {
      const before = await usedMemory(client);
      await layout.fill(client, tokens, layout);
      const after = await usedMemory(client);
      const bytes = after - before;
      const users = Math.ceil(tokens / layout.tokensPerUser);
      const sample = await sampleKeys(client, layout, users);
      rows.push({
        key: layout.key,
        label: layout.label,
        tokens,
        users,
        device: layout.device,
        bytes,
        bytesPerToken: bytes / tokens,
        keyBytesPerToken: sample.bytesPerToken,
        encodings: sample.encodings,
        valueBytes: sample.valueBytes,
        canListAndRevokeAll: layout.canListAndRevokeAll,
      });
      log(
        `  ${layout.key}: ${(bytes / tokens).toFixed(0)} bytes per token (${tokens} tokens, ${users} users; ` +
          `MEMORY USAGE ${sample.bytesPerToken.toFixed(0)} per token; ${Object.keys(sample.encodings).join(', ')})`,
      );
    } finally {
      await client.close();
      await server.stop();
    }
  }
  return rows;
}
