// Server-side time of the package's scripts, read from SLOWLOG (every command logged, with its
// duration in µs as Redis measured it), and the largest inputs createToken accepts: what the
// worst-case measurements of spec/bounds.spec.ts and bench/script-times.ts are made of.
import { randomBytes } from 'node:crypto';
import type { RedisClientType } from 'redis';
import { recordTail, SEPARATOR } from '../../src/record.js';
import { ALL_SCRIPTS } from '../../src/scripts.js';
import { pepperFingerprint, TOKEN_ID_LENGTH, FINGERPRINT_LENGTH } from '../../src/token.js';

/** A user id of exactly 256 bytes, the longest accepted, numbered by `n`. */
export function longestUserId(n: number): string {
  const head = `user-${n}-`;
  return head + 'u'.repeat(256 - head.length);
}

/** The largest token options accepted: device 256 B, 16 scopes in 255 B, meta of 160 B as JSON. */
export const LARGEST_OPTIONS: { device: string; scopes: string[]; meta: Record<string, string> } = {
  device: 'D'.repeat(256),
  scopes: Array.from({ length: 16 }, (_, i) => `scope-${String(i).padStart(2, '0')}-xxxxx`),
  // {"meta":"…"} is 11 bytes around the value.
  meta: { meta: 'm'.repeat(160 - 11) },
};

/**
 * A record as the create script writes it, of the largest size, for `userId`; written straight
 * into a hash, it stands for a user who shares that hash's routing tag (which a 64-bit tag
 * makes impossible to arrange through the API).
 */
export function largestRecord(userId: string, now: number, ttlMs: number): string {
  const { device, scopes, meta } = LARGEST_OPTIONS;
  return [now.toString(36), (now + ttlMs).toString(36), now.toString(36), userId, recordTail(scopes, device, meta)].join(SEPARATOR);
}

/** A random token id under no pepper, as the package makes them. */
export function randomTokenId(): string {
  return pepperFingerprint(null) + randomBytes(16).toString('base64url').slice(0, TOKEN_ID_LENGTH - FINGERPRINT_LENGTH);
}

const NAME_OF_SHA = new Map(ALL_SCRIPTS.map((script) => [script.sha1, script.name]));

/** Makes the server log every command, and forgets what it logged so far. */
export async function logEveryCommand(admin: RedisClientType): Promise<void> {
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-log-slower-than', '0']);
  await admin.sendCommand(['CONFIG', 'SET', 'slowlog-max-len', '10000']);
  await admin.sendCommand(['SLOWLOG', 'RESET']);
}

/**
 * The server time in µs of every script call logged since the last call (or
 * {@link logEveryCommand}), by script name; then forgets them.
 */
export async function scriptTimes(admin: RedisClientType): Promise<Map<string, number[]>> {
  const log = await admin.sendCommand<unknown[]>(['SLOWLOG', 'GET', '10000']);
  await admin.sendCommand(['SLOWLOG', 'RESET']);
  const times = new Map<string, number[]>();
  for (const entry of log) {
    if (!Array.isArray(entry)) continue;
    const [, , duration, args] = entry as [unknown, unknown, unknown, unknown];
    if (!Array.isArray(args) || String(args[0]).toUpperCase() !== 'EVALSHA') continue;
    const name = NAME_OF_SHA.get(String(args[1]));
    if (name === undefined) continue;
    times.set(name, [...(times.get(name) ?? []), Number(duration)]);
  }
  return times;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
