// The bench's capacity part: measures every constant the capacity model reads (per-operation
// Redis costs, replication, memory per token, client-side-caching invalidations) and the
// cluster evidence, then writes them as one constants file naming this run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import type { ConstantsFile, Measured, RunInfo } from '../capacity/constants.js';
import { OPERATIONS, SIZES, WRITE_OPERATIONS, readConstants } from '../capacity/constants.js';
import { renderGenerated, spliceGenerated, type ScaleResult } from '../capacity/doc.js';
import { measureCluster, type ClusterEvidence } from './capacity-cluster.js';
import { measureCsc, type CscResult } from './capacity-csc.js';
import { measureMemory, type MemoryResult } from './capacity-memory.js';
import { measureOperations, type OpsResult, type OpsSettings } from './capacity-ops.js';
import { token as tokenMath } from './package.js';

export interface CapacitySettings {
  ops: OpsSettings;
  memoryTokens: number;
  cscWrites: number;
  cluster: { users: number; rounds: number; secondsPerRound: number; slotIds: number; perServerRate: number };
}

export const CAPACITY_FULL: CapacitySettings = {
  ops: { users: { 1: 3000, 10: 1000, 100: 200 }, rounds: 5, replicationUsers: 300 },
  memoryTokens: 100_000,
  cscWrites: 20,
  cluster: { users: 30_000, rounds: 9, secondsPerRound: 2, slotIds: 1_000_000, perServerRate: 4000 },
};

export const CAPACITY_QUICK: CapacitySettings = {
  ops: { users: { 1: 600, 10: 200, 100: 40 }, rounds: 2, replicationUsers: 60 },
  memoryTokens: 20_000,
  cscWrites: 5,
  cluster: { users: 5000, rounds: 3, secondsPerRound: 1, slotIds: 1_000_000, perServerRate: 3000 },
};

function gitDescribe(): string {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** Everything the capacity part measured, before it becomes a constants file. */
export interface CapacityMeasurements {
  ops: OpsResult;
  memory: MemoryResult;
  csc: CscResult;
  cluster: ClusterEvidence;
}

/** Runs every capacity measurement. */
export async function measureCapacity(settings: CapacitySettings, log: (line: string) => void): Promise<CapacityMeasurements> {
  log('  per-operation Redis costs at 1, 10 and 100 tokens per user');
  const ops = await measureOperations(settings.ops, log);
  log(`  memory per token at 1, 3 and 10 tokens per user (${settings.memoryTokens} tokens per series, fresh servers)`);
  const memory = await measureMemory(settings.memoryTokens, log);
  log('  client-side caching: invalidations per write');
  const csc = await measureCsc(settings.cscWrites);
  log('  cluster: slot spread, and a 3-master cluster under load');
  const cluster = await measureCluster(settings.cluster, log);
  return { ops, memory, csc, cluster };
}

/** The constants file for one run's measurements. */
export function constantsFile(m: CapacityMeasurements, run: { id: string; command: string; startedAt: string; seconds: number; loadAtStart: number[]; redis: string }): ConstantsFile {
  const info: RunInfo = {
    command: run.command,
    startedAt: run.startedAt,
    seconds: Math.round(run.seconds),
    commit: gitDescribe(),
    redis: run.redis,
    node: process.version,
    cpus: availableParallelism(),
    loadAverage: { start: run.loadAtStart.map((l) => Math.round(l * 100) / 100), end: loadavg().map((l) => Math.round(l * 100) / 100) },
    tokenFormat: { tagLength: tokenMath.TAG_LENGTH, secretLength: tokenMath.SECRET_LENGTH, checksumLength: tokenMath.CHECKSUM_LENGTH, tokenIdLength: tokenMath.TOKEN_ID_LENGTH },
  };
  const constants: Record<string, Measured> = {};
  const put = (name: string, value: number, unit: string, how: string): void => {
    constants[name] = { value: Math.round(value * 100) / 100, unit, run: run.id, how };
  };
  const rounds = `median of ${m.ops.costs.verify[1].cpuUsRounds.length} interleaved rounds`;
  for (const op of OPERATIONS) {
    for (const size of SIZES) {
      const c = m.ops.costs[op][size];
      put(`${op}.${size}.cpuUs`, c.cpuUs, 'µs', `INFO cpu main thread (user+sys) over the phase, less idle and INFO's own cost, per operation; ${rounds}`);
      put(`${op}.${size}.execUs`, c.execUs, 'µs', `INFO commandstats usec_per_call of ${op === 'verify' ? 'HGET' : 'EVALSHA'} (wall time inside the command); ${rounds}`);
      put(`${op}.${size}.inBytes`, c.inBytes, 'B', 'INFO stats total_net_input_bytes per operation');
      put(`${op}.${size}.outBytes`, c.outBytes, 'B', 'INFO stats total_net_output_bytes per operation');
    }
  }
  for (const op of WRITE_OPERATIONS) {
    for (const size of SIZES) {
      const r = m.ops.replication[op][size];
      put(`${op}.${size}.replBytes`, r.replBytes, 'B', 'master_repl_offset growth per write, one replica attached');
      put(`${op}.${size}.replicaCpuUs`, r.replicaCpuUs, 'µs', "the replica's INFO cpu main thread per write applied, less idle");
    }
  }
  put('ping.cpuUs', m.ops.ping.cpuUs, 'µs', `INFO cpu main thread per PING; ${rounds}`);
  put('ping.inBytes', m.ops.ping.inBytes, 'B', 'total_net_input_bytes per PING');
  put('ping.outBytes', m.ops.ping.outBytes, 'B', 'total_net_output_bytes per PING');
  put('wire.verifyValueBytes', m.ops.verifyValueBytes, 'B', 'length of the record in the verification replies measured');
  for (const encoding of ['listpack', 'hashtable'] as const) {
    const f = m.memory.fits[encoding];
    const how = `least-squares line through used_memory growth per user (dict tables taken out) at 1, 3 and 10 tokens per user, ${f.label} label, ${m.memory.points[0]!.tokens} tokens per point; worst residual ${(f.worstResidual * 100).toFixed(1)}%`;
    put(`memory.${encoding}.perUserBytes`, f.perUserBytes, 'B', how);
    put(`memory.${encoding}.perTokenBytes`, f.perTokenBytes, 'B', how);
    put(`memory.${encoding}.valueBytes`, f.valueBytes, 'B', `stored record length in the ${encoding} series (fresh tokens)`);
  }
  put('memory.recordFixedBytes', m.memory.recordFixedBytes, 'B', 'stored record length less user id and device label (fresh token)');
  put('memory.lastUsedBytes', m.memory.lastUsedBytes, 'B', 'record growth on its first touch');
  put('memory.listpackValueMax', m.memory.listpackValueMax, 'B', 'CONFIG GET hash-max-listpack-value of the server measured');
  put('memory.listpackEntriesMax', m.memory.listpackEntriesMax, 'entries', 'CONFIG GET hash-max-listpack-entries of the server measured');
  put('memory.clusterKeyBytes', Math.max(0, m.cluster.clusterKeyBytes), 'B', `used_memory per key of a 3-master cluster over a single server, ${m.cluster.users} users each, dict tables taken out`);
  put('csc.invalidationsPerWrite', Math.max(...Object.values(m.csc.perWrite)), 'messages', `invalidation pushes per write per instance that had read the key (${m.csc.instances} RESP3 tracking connections, ${m.csc.writesPerOperation} writes of each kind; the largest over kinds)`);
  put('csc.invalidationBytes', m.csc.invalidationBytes, 'B', 'bytes of one invalidation push frame (RESP3)');
  const file: ConstantsFile = {
    schema: 1,
    runs: { [run.id]: info },
    constants,
    evidence: {
      run: run.id,
      memoryPoints: m.memory.points,
      memoryNotes: m.memory.notes,
      csc: m.csc,
      cluster: m.cluster,
      meterOverhead: m.ops.overhead,
      verifyBatchedCpuUs: m.ops.verifyBatchedCpuUs.map((v) => Math.round(v * 100) / 100),
      cpuUsRounds: Object.fromEntries(OPERATIONS.map((op) => [op, Object.fromEntries(SIZES.map((size) => [size, m.ops.costs[op][size].cpuUsRounds.map((v) => Math.round(v * 10) / 10)]))])),
    },
  };
  readConstants(file); // the file must be complete before anything writes it
  return file;
}

const ROOT = new URL('../', import.meta.url);

/**
 * Writes a run's constants: on an official (full) run to capacity/constants.json, with
 * CAPACITY.md's generated part re-rendered from it; else to .bench-out/ only.
 */
export function writeCapacityFiles(file: ConstantsFile, official: boolean, mode: string, log: (line: string) => void): void {
  const { constants } = readConstants(file);
  const json = `${JSON.stringify(file, null, 2)}\n`;
  let scale: ScaleResult | undefined;
  try {
    scale = JSON.parse(readFileSync(new URL('capacity/scale.json', ROOT), 'utf8')) as ScaleResult;
  } catch {
    scale = undefined; // no scale run committed yet
  }
  const generated = renderGenerated(file, constants, scale);
  if (official) {
    writeFileSync(new URL('capacity/constants.json', ROOT), json);
    const path = new URL('CAPACITY.md', ROOT);
    const document = existsSync(path) ? readFileSync(path, 'utf8') : '# Capacity\n';
    writeFileSync(path, spliceGenerated(document, generated));
    log('wrote capacity/constants.json and CAPACITY.md (generated part)');
  } else {
    mkdirSync(new URL('.bench-out/', ROOT), { recursive: true });
    writeFileSync(new URL(`.bench-out/capacity-constants.${mode}.json`, ROOT), json);
    writeFileSync(new URL(`.bench-out/CAPACITY.${mode}.md`, ROOT), `# Capacity (${mode} run)\n\n${generated}\n`);
    log(`wrote .bench-out/capacity-constants.${mode}.json and .bench-out/CAPACITY.${mode}.md`);
  }
}
