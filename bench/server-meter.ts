// Redis-side counters read in one INFO call: the main thread's CPU, each command's calls and
// time, bytes in and out, and the replication offset. Differences of two readings price what
// happened between them on the server, whatever the load on the machine's other processes.
import type { RedisClientType } from 'redis';
import { fields } from './redis-info.js';

/** One reading of a server's counters. */
export interface ServerReading {
  /** used_cpu_user_main_thread + used_cpu_sys_main_thread, µs. */
  cpuUs: number;
  /** calls and usec per command (commandstats), INFO left out. */
  commands: Map<string, { calls: number; usec: number }>;
  inBytes: number;
  outBytes: number;
  replOffset: number;
  /** Monotonic time of the reading, ms. */
  at: number;
}

/** What happened between two readings. */
export interface ServerDelta {
  cpuUs: number;
  calls(command: string): number;
  usec(command: string): number;
  inBytes: number;
  outBytes: number;
  replOffset: number;
  ms: number;
}

/** A client that can send a raw command: node-redis standalone, or one node of a cluster. */
export type RawClient = Pick<RedisClientType, 'sendCommand'>;

function numberOf(map: Map<string, string>, name: string): number {
  const value = map.get(name);
  if (value === undefined) throw new Error(`INFO gave no ${name}`);
  return Number(value);
}

/** Reads the counters (one INFO with four sections). */
export async function readServer(admin: RawClient): Promise<ServerReading> {
  const reply: unknown = await admin.sendCommand(['INFO', 'cpu', 'commandstats', 'stats', 'replication']);
  const info = fields(typeof reply === 'string' ? reply : String(reply));
  const commands = new Map<string, { calls: number; usec: number }>();
  for (const [name, value] of info) {
    const match = /^cmdstat_(.+)$/.exec(name);
    if (match === null || match[1] === 'info') continue;
    const calls = /(?:^|,)calls=(\d+)/.exec(value);
    const usec = /(?:^|,)usec=(\d+)/.exec(value);
    commands.set(match[1]!, { calls: Number(calls?.[1] ?? 0), usec: Number(usec?.[1] ?? 0) });
  }
  return {
    cpuUs: (numberOf(info, 'used_cpu_user_main_thread') + numberOf(info, 'used_cpu_sys_main_thread')) * 1e6,
    commands,
    inBytes: numberOf(info, 'total_net_input_bytes'),
    outBytes: numberOf(info, 'total_net_output_bytes'),
    replOffset: numberOf(info, 'master_repl_offset'),
    at: performance.now(),
  };
}

/** The difference of two readings. */
export function delta(before: ServerReading, after: ServerReading): ServerDelta {
  const of = (command: string, what: 'calls' | 'usec'): number => (after.commands.get(command)?.[what] ?? 0) - (before.commands.get(command)?.[what] ?? 0);
  return {
    cpuUs: after.cpuUs - before.cpuUs,
    calls: (command) => of(command, 'calls'),
    usec: (command) => of(command, 'usec'),
    inBytes: after.inBytes - before.inBytes,
    outBytes: after.outBytes - before.outBytes,
    replOffset: after.replOffset - before.replOffset,
    ms: after.at - before.at,
  };
}

/**
 * What reading the counters itself costs the server (two INFO calls) and what it spends idle
 * per ms (its cron), measured over a quiet stretch: subtracted from every phase.
 */
export interface MeterOverhead {
  cpuUs: number;
  inBytes: number;
  outBytes: number;
  idleCpuUsPerMs: number;
}

/** Measures {@link MeterOverhead} on a server with nothing else running. */
export async function meterOverhead(admin: RawClient, quietMs = 1000): Promise<MeterOverhead> {
  const samples: ServerDelta[] = [];
  for (let i = 0; i < 9; i++) samples.push(delta(await readServer(admin), await readServer(admin)));
  const mid = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1]!;
  const a = await readServer(admin);
  await new Promise((resolve) => setTimeout(resolve, quietMs));
  const quiet = delta(a, await readServer(admin));
  const probeCpu = mid(samples.map((s) => s.cpuUs));
  return {
    cpuUs: probeCpu,
    inBytes: mid(samples.map((s) => s.inBytes)),
    outBytes: mid(samples.map((s) => s.outBytes)),
    idleCpuUsPerMs: Math.max(0, (quiet.cpuUs - probeCpu) / quiet.ms),
  };
}

/** Per-operation figures of one phase of `ops` operations, overhead removed. */
export function perOperation(d: ServerDelta, ops: number, overhead: MeterOverhead, command: string): { cpuUs: number; execUs: number; inBytes: number; outBytes: number } {
  const calls = d.calls(command);
  return {
    cpuUs: Math.max(0, d.cpuUs - overhead.cpuUs - overhead.idleCpuUsPerMs * d.ms) / ops,
    execUs: calls === 0 ? Number.NaN : d.usec(command) / calls,
    inBytes: Math.max(0, d.inBytes - overhead.inBytes) / ops,
    outBytes: Math.max(0, d.outBytes - overhead.outBytes) / ops,
  };
}
