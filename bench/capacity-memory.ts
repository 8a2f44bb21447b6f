// Redis memory per token at 1, 3 and 10 tokens per user, with a short device label and with a
// real browser User-Agent: each series on a fresh redis-server, tokens written through
// createToken, INFO used_memory before and after. The keyspace's two dict tables are taken
// out (they grow by powers of two, see capacity/model.ts), and a line per user + per token is
// fitted to what is left, for each hash encoding.
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClientType } from 'redis';
import { startRedisServer } from '../spec/support/redis-server.js';
import { dictTableBytes } from '../capacity/model.js';
import type { Encoding } from '../capacity/constants.js';
import { DEVICE, USER_AGENT, plainClient } from './contenders.js';
import { PREFIX, syntheticUserId } from './capacity-ops.js';
import { forEachConcurrently } from './measure.js';
import { keys as keyMath, pkg, scripts, token as tokenMath } from './package.js';
import { usedMemory } from './redis-info.js';

const FILL_CONCURRENCY = 128;
export const MEMORY_DEVICES = [1, 3, 10] as const;

/** One measured point. */
export interface MemoryPoint {
  label: 'short' | 'user-agent' | 'none';
  labelBytes: number;
  devices: number;
  users: number;
  tokens: number;
  encoding: string;
  /** Growth of used_memory over the fill. */
  bytes: number;
  bytesPerToken: number;
  /** (bytes − dict tables) / users. */
  perUserBytes: number;
  /** Stored record length, fresh. */
  valueBytes: number;
  /** MEMORY USAGE (SAMPLES 0) of one user's hash, per token. */
  keyBytesPerToken: number;
}

/** A line fitted through one encoding's points: perUser = perUserBytes + devices × perTokenBytes. */
export interface MemoryFit {
  encoding: Encoding;
  label: MemoryPoint['label'];
  perUserBytes: number;
  perTokenBytes: number;
  valueBytes: number;
  /** Largest |fit − measured| over the points, relative to measured. */
  worstResidual: number;
}

export interface MemoryResult {
  points: MemoryPoint[];
  fits: Record<Encoding, MemoryFit>;
  recordFixedBytes: number;
  lastUsedBytes: number;
  userIdBytes: number;
  listpackValueMax: number;
  listpackEntriesMax: number;
  notes: string[];
}

async function configNumber(client: RedisClientType, name: string): Promise<number> {
  const reply = await client.configGet(name);
  const value = Number(reply[name]);
  if (!Number.isFinite(value)) throw new Error(`CONFIG GET ${name} gave no number`);
  return value;
}

/** Waits until used_memory stops moving (an incremental rehash finishing). */
async function settled(client: RedisClientType): Promise<number> {
  let last = await usedMemory(client);
  for (let i = 0; i < 20; i++) {
    await sleep(150);
    const now = await usedMemory(client);
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Fills a fresh server with `tokens` tokens, `devices` per user, and measures it. */
export async function measurePoint(label: MemoryPoint['label'], devices: number, tokens: number, letter = 'm'): Promise<MemoryPoint> {
  const device = label === 'short' ? DEVICE : label === 'user-agent' ? USER_AGENT : undefined;
  const server = await startRedisServer();
  const client = await plainClient(server.url);
  try {
    const repository = new pkg.MultiTokenRepository({ redis: client, keyPrefix: PREFIX, maxTokensPerUser: null });
    const users = Math.ceil(tokens / devices);
    await repository.createToken({ id: syntheticUserId('w', 0) }, { device });
    await repository.expireAllTokens({ id: syntheticUserId('w', 0) });
    const before = await settled(client);
    await forEachConcurrently(tokens, FILL_CONCURRENCY, (i) => repository.createToken({ id: syntheticUserId(letter, Math.floor(i / devices)) }, { device }));
    const after = await settled(client);
    const bytes = after - before;
    const sampleKey = keyMath.tagKey(PREFIX, tokenMath.routingTag(syntheticUserId(letter, 0)));
    const encoding = (await client.objectEncoding(sampleKey)) ?? 'none';
    const fields = await client.hGetAll(sampleKey);
    const valueBytes = Buffer.byteLength(Object.values(fields)[0] ?? '');
    const keyBytes = (await client.memoryUsage(sampleKey, { SAMPLES: 0 })) ?? 0;
    return {
      label,
      labelBytes: Buffer.byteLength(device ?? ''),
      devices,
      users,
      tokens,
      encoding,
      bytes,
      bytesPerToken: bytes / tokens,
      perUserBytes: (bytes - (dictTableBytes(users) - dictTableBytes(1))) / users,
      valueBytes,
      keyBytesPerToken: keyBytes / Math.max(1, Object.keys(fields).length),
    };
  } finally {
    await client.close().catch(() => {});
    await server.stop();
  }
}

function fit(points: MemoryPoint[], encoding: Encoding): MemoryFit {
  // Least squares of perUserBytes on devices.
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.devices, 0) / n;
  const my = points.reduce((s, p) => s + p.perUserBytes, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.devices - mx) ** 2, 0);
  const slope = sxx === 0 ? my / mx : points.reduce((s, p) => s + (p.devices - mx) * (p.perUserBytes - my), 0) / sxx;
  const intercept = sxx === 0 ? 0 : my - slope * mx;
  const worstResidual = Math.max(...points.map((p) => Math.abs(intercept + slope * p.devices - p.perUserBytes) / p.perUserBytes));
  return { encoding, label: points[0]!.label, perUserBytes: intercept, perTokenBytes: slope, valueBytes: points[0]!.valueBytes, worstResidual };
}

/** The record's parts: its length less user id and label, and what the first touch adds. */
async function recordParts(): Promise<{ fixed: number; lastUsed: number; userIdBytes: number; listpackValueMax: number; listpackEntriesMax: number }> {
  const server = await startRedisServer();
  const client = await plainClient(server.url);
  try {
    const repository = new pkg.MultiTokenRepository({ redis: client, keyPrefix: PREFIX });
    const userId = syntheticUserId('r', 0);
    const { token } = await repository.createToken({ id: userId }, { device: DEVICE });
    const hashKey = keyMath.tagKey(PREFIX, tokenMath.routingTag(userId));
    const fresh = Buffer.byteLength((await client.hGet(hashKey, token.id)) ?? '');
    await client.eval(scripts.TOUCH_TOKEN.source, { keys: [hashKey], arguments: [token.id, '0', '0'] });
    const touched = Buffer.byteLength((await client.hGet(hashKey, token.id)) ?? '');
    return {
      // Times, separators (the label's own included): all but the user id and the label.
      fixed: fresh - Buffer.byteLength(userId) - Buffer.byteLength(DEVICE),
      lastUsed: touched - fresh,
      userIdBytes: Buffer.byteLength(userId),
      listpackValueMax: await configNumber(client, 'hash-max-listpack-value'),
      listpackEntriesMax: await configNumber(client, 'hash-max-listpack-entries'),
    };
  } finally {
    await client.close().catch(() => {});
    await server.stop();
  }
}

/** Every series, fitted per encoding. */
export async function measureMemory(tokens: number, log: (line: string) => void): Promise<MemoryResult> {
  const points: MemoryPoint[] = [];
  const notes: string[] = [];
  for (const label of ['short', 'user-agent'] as const) {
    for (const devices of MEMORY_DEVICES) {
      const point = await measurePoint(label, devices, tokens);
      points.push(point);
      log(`  ${label}, ${devices} per user: ${point.bytesPerToken.toFixed(1)} B per token (${point.encoding}, record ${point.valueBytes} B)`);
    }
  }
  const byEncoding = (encoding: Encoding): MemoryPoint[] => {
    const of = points.filter((p) => p.encoding === encoding);
    // One label per fit: the shortest for listpack, the longest for hashtable.
    const label = encoding === 'listpack' ? of[0]?.label : of.at(-1)?.label;
    return of.filter((p) => p.label === label);
  };
  let listpack = byEncoding('listpack');
  if (listpack.length === 0) {
    notes.push('the short label gave hashtable hashes; listpack fitted on tokens without a label');
    for (const devices of MEMORY_DEVICES) points.push(await measurePoint('none', devices, tokens));
    listpack = byEncoding('listpack');
  }
  const hashtable = byEncoding('hashtable');
  if (hashtable.length === 0) throw new Error('a 117-byte User-Agent label did not give hashtable hashes');
  const fits = { hashtable: fit(hashtable, 'hashtable'), listpack: listpack.length > 0 ? fit(listpack, 'listpack') : { ...fit(hashtable, 'hashtable'), encoding: 'listpack' as const } };
  if (listpack.length === 0) notes.push('no listpack hashes even without a label: the listpack figures are the hashtable ones');
  const parts = await recordParts();
  return {
    points,
    fits,
    recordFixedBytes: parts.fixed,
    lastUsedBytes: parts.lastUsed,
    userIdBytes: parts.userIdBytes,
    listpackValueMax: parts.listpackValueMax,
    listpackEntriesMax: parts.listpackEntriesMax,
    notes,
  };
}
