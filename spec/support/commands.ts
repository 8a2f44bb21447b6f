import type { RedisClientType } from 'redis';

/** How many commands the server has executed since the last reset, from INFO commandstats. */
export async function commandCount(admin: RedisClientType): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    // The admin connection's own INFO and CONFIG calls are not what is being counted.
    if (match[1] !== 'info' && !match[1]!.startsWith('config')) total += Number(match[2]);
  }
  return total;
}

/** Calls of one command (such as `evalsha` or `hset`) since the last reset. */
export async function callsOf(admin: RedisClientType, command: string): Promise<number> {
  const info = await admin.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match === null ? 0 : Number(match[1]);
}
