// What the server says about itself: command counts, memory and version, read with INFO.
import type { RedisClientType } from 'redis';

/** The `name:value` lines of an INFO reply, section headers left out. */
export function fields(info: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of info.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) out.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return out;
}

/** Calls per command since the server started (or CONFIG RESETSTAT), INFO itself left out. */
export async function commandCalls(admin: RedisClientType): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const [name, value] of fields(await admin.info('commandstats'))) {
    const match = /^cmdstat_(.+)$/.exec(name);
    const calls = /(?:^|,)calls=(\d+)/.exec(value);
    if (match !== null && calls !== null && match[1] !== 'info') out.set(match[1]!, Number(calls[1]));
  }
  return out;
}

/** Calls of each command between two {@link commandCalls} readings, commands with none left out. */
export function callsBetween(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, calls] of after) {
    const delta = calls - (before.get(name) ?? 0);
    if (delta > 0) out[name] = delta;
  }
  return out;
}

/** `used_memory` in bytes. */
export async function usedMemory(admin: RedisClientType): Promise<number> {
  const value = fields(await admin.info('memory')).get('used_memory');
  if (value === undefined) throw new Error('INFO memory gave no used_memory');
  return Number(value);
}

/** The server's version and allocator. */
export async function serverVersion(admin: RedisClientType): Promise<string> {
  const server = fields(await admin.info('server'));
  const memory = fields(await admin.info('memory'));
  return `${server.get('redis_version') ?? '?'} (${memory.get('mem_allocator') ?? '?'})`;
}

/** The server's process id, for pinning it to a core. */
export async function serverPid(admin: RedisClientType): Promise<number> {
  const pid = Number(fields(await admin.info('server')).get('process_id'));
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error('INFO server gave no process_id');
  return pid;
}
