// In-process verification: each strategy's `authenticate` called as Passport calls it, in
// interleaved rounds (A, B, C, ..., A, B, C, ...), so drift on a shared machine hits every
// contender alike. Also counts the Redis commands one verification costs.
import type { RedisClientType } from 'redis';
import { runLoad, type LoadResult } from './measure.js';
import { callsBetween, commandCalls } from './redis-info.js';

/** One thing to measure: an operation that resolves true when it gave the expected outcome. */
export interface Contender {
  key: string;
  label: string;
  op: () => Promise<boolean>;
}

/** Every run of every contender at one concurrency, in round order. */
export interface InterleavedRuns {
  concurrency: number;
  runs: Record<string, LoadResult[]>;
}

export interface InterleaveOptions {
  rounds: number;
  durationMs: number;
  warmupMs: number;
  concurrencies: readonly number[];
  log: (line: string) => void;
}

/**
 * `list` started at its `by`-th item: each round starts one contender later, so no contender
 * always runs right after the same neighbour (a slow one can leave the heap or the CPU's
 * clock behind it).
 */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Runs every contender at every concurrency, `rounds` times, interleaved, each round rotated. */
export async function interleave(contenders: readonly Contender[], options: InterleaveOptions): Promise<InterleavedRuns[]> {
  const { rounds, durationMs, warmupMs, concurrencies, log } = options;
  // Warm every path up (JIT, connections, script cache, client-side cache) before timing.
  for (const contender of contenders) await runLoad(contender.op, Math.max(...concurrencies), warmupMs);
  const results = concurrencies.map((concurrency) => ({
    concurrency,
    runs: Object.fromEntries(contenders.map((c) => [c.key, [] as LoadResult[]])),
  }));
  for (let round = 1; round <= rounds; round++) {
    for (const entry of results) {
      const line: string[] = [];
      for (const contender of rotate(contenders, round - 1)) {
        const result = await runLoad(contender.op, entry.concurrency, durationMs);
        entry.runs[contender.key]!.push(result);
        line.push(`${contender.key} ${Math.round(result.opsPerSec)}`);
      }
      log(`  round ${round}/${rounds} c=${entry.concurrency}: ${line.sort().join(', ')} ops/s`);
    }
  }
  return results;
}

/** The Redis commands one call of each contender costs, from INFO commandstats over `count` calls. */
export async function commandsPerCall(
  admin: RedisClientType,
  contenders: readonly Contender[],
  count: number,
): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const contender of contenders) {
    const before = await commandCalls(admin);
    for (let i = 0; i < count; i++) {
      if (!(await contender.op())) throw new Error(`${contender.key} did not give the expected outcome`);
    }
    const delta = callsBetween(before, await commandCalls(admin));
    out[contender.key] = Object.fromEntries(Object.entries(delta).map(([name, calls]) => [name, calls / count]));
  }
  return out;
}
