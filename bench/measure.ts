// Timing primitives: closed-loop load at a fixed concurrency, and the statistics the report
// uses. Latencies are recorded in nanoseconds and reported in microseconds.
import { createHistogram } from 'node:perf_hooks';

/** One timed run of one operation. */
export interface LoadResult {
  ops: number;
  opsPerSec: number;
  /** Median latency, µs. */
  p50: number;
  /** 99th percentile latency, µs. */
  p99: number;
  /**
   * CPU time of this process per call, µs (process.cpuUsage: user + system, every thread).
   * Unlike throughput, it does not count time spent waiting for the CPU or for Redis, so it is
   * the steadier measure of what a call costs the process on a shared machine.
   */
  cpu: number;
}

/**
 * Runs `op` from `concurrency` closed loops for `durationMs`, each starting its next call
 * as soon as the last settles. Every call must resolve to true: a benchmark that measures a
 * failing path by mistake is worse than none, so a false or a rejection stops the run.
 */
export async function runLoad(op: () => Promise<boolean>, concurrency: number, durationMs: number): Promise<LoadResult> {
  const histogram = createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
  let ops = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(durationMs * 1e6));
  const loop = async (): Promise<void> => {
    for (;;) {
      const t0 = process.hrtime.bigint();
      if (t0 >= end) return;
      const ok = await op();
      const t1 = process.hrtime.bigint();
      if (!ok) throw new Error('a benchmarked call did not give the expected outcome');
      histogram.record(t1 - t0 > 0n ? t1 - t0 : 1n);
      ops += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return {
    ops,
    opsPerSec: ops / seconds,
    p50: histogram.percentile(50) / 1e3,
    p99: histogram.percentile(99) / 1e3,
    cpu: (cpu.user + cpu.system) / ops,
  };
}

/** Times `count` sequential calls of `op`, with `between` run untimed after each. Returns µs per call. */
export async function timeEach(count: number, op: () => Promise<unknown>, between?: () => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await op();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3);
    if (between !== undefined) await between();
  }
  return samples;
}

/** Runs `op` for `count` items from `concurrency` loops, untimed; for filling Redis. */
export async function forEachConcurrently(count: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await op(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, loop));
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0-100) of a non-empty list, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The lowest and highest of a list, for the spread next to a median. */
export function spread(values: readonly number[]): { min: number; max: number } {
  return { min: Math.min(...values), max: Math.max(...values) };
}
