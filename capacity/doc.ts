// CAPACITY.md's generated part, pure: the measured constants with their run, the worked
// examples printed by the model, the cluster evidence and the scale run. `npm run bench`
// and `npm run scale` rewrite it between the markers; the formulae around it are by hand.
import type { ClusterEvidence } from '../bench/capacity-cluster.js';
import { OPERATIONS, SIZES, WRITE_OPERATIONS, valueOf, type Constants, type ConstantsFile } from './constants.js';
import { parseCapacityArgs } from './args.js';
import { plan, type Workload } from './model.js';
import { renderPlan } from './render.js';

export const START_MARKER = '<!-- capacity:generated:start (written by npm run bench and npm run scale; edits here are overwritten) -->';
export const END_MARKER = '<!-- capacity:generated:end -->';

/** The two worked examples, with the command that prints each. */
export const EXAMPLES: readonly { title: string; args: string }[] = [
  {
    title: '100 million users, 3 devices each',
    args: '--users 100000000 --devices 3 --verify-rps 200000 --login-rps 500 --replicas 1 --label-bytes 24',
  },
  {
    title: '1 million users, 3 devices each',
    args: '--users 1000000 --devices 3 --verify-rps 2000 --login-rps 5 --replicas 1 --label-bytes 24',
  },
];

/** What `npm run scale` measured. */
export interface ScaleResult {
  run: string;
  startedAt: string;
  seconds: number;
  commit: string;
  loadAverage: { start: number[]; end: number[] };
  phases: {
    users: number;
    devices: number;
    tokens: number;
    writeSeconds: number;
    /** used_memory growth over the fill, bytes. */
    measuredBytes: number;
    /** The model's used_memory for the same users, devices and records (fresh), bytes. */
    modelBytes: number;
    /** measured / model. */
    ratio: number;
    rssOverUsed: number;
    verify: { p50: number; p99: number; smallP50: number; smallP99: number; p50Ratio: number; p99Ratio: number; rounds: number; perStore: number };
    /** EVALSHA usec_per_call of each write script on users of this store, µs. */
    scripts: Record<string, { execUs: number; cpuUs: number; benchCpuUs: number | null }>;
  }[];
}

function n(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** An example's workload, read by the capacity command's own parser (so its defaults). */
export function exampleWorkload(args: string): Workload {
  const command = parseCapacityArgs(args.split(' '));
  if (command.help) throw new Error('an example asked for help');
  return command.workload;
}

interface MemoryPointShape {
  label: string;
  labelBytes: number;
  devices: number;
  tokens: number;
  encoding: string;
  bytesPerToken: number;
  valueBytes: number;
  keyBytesPerToken: number;
}

/** The generated part of CAPACITY.md. */
export function renderGenerated(file: ConstantsFile, constants: Constants, scale: ScaleResult | undefined): string {
  const lines: string[] = [START_MARKER];
  const runId = Object.keys(file.runs)[0] ?? '?';
  for (const [id, run] of Object.entries(file.runs)) {
    lines.push(
      `Constants: run \`${id}\` (\`${run.command}\`, commit \`${run.commit}\`, ${run.seconds} s), redis-server ${run.redis}, Node ${run.node}, ${run.cpus} cores; load average (1, 5, 15 min) ${run.loadAverage.start.join(', ')} at the start and ${run.loadAverage.end.join(', ')} at the end. Token format: ${run.tokenFormat.tagLength}-character routing tag, ${run.tokenFormat.secretLength}-character secret, ${run.tokenFormat.checksumLength}-character checksum, ${run.tokenFormat.tokenIdLength}-character token id.`,
      '',
    );
  }
  const c = (name: string): number => valueOf(constants, name);
  lines.push('### Per operation, on the Redis side', '', 'Redis main-thread CPU (INFO cpu) and wall time inside the command (commandstats usec_per_call) per operation, bytes in and out (INFO stats), and with one replica attached the replication stream and the replica\'s CPU, at 1, 10 and 100 tokens per user. Each connection had one command in flight.', '');
  const rows: string[][] = [];
  for (const op of OPERATIONS) {
    for (const size of SIZES) {
      const write = (WRITE_OPERATIONS as readonly string[]).includes(op);
      rows.push([
        `${op} @ ${size}`,
        n(c(`${op}.${size}.cpuUs`)),
        n(c(`${op}.${size}.execUs`)),
        n(c(`${op}.${size}.inBytes`), 0),
        n(c(`${op}.${size}.outBytes`), 0),
        write ? n(c(`${op}.${size}.replBytes`), 0) : '–',
        write ? n(c(`${op}.${size}.replicaCpuUs`)) : '–',
      ]);
    }
  }
  lines.push(...table(['operation @ tokens per user', 'CPU µs', 'in-command µs', 'bytes in', 'bytes out', 'replication B', 'replica CPU µs'], rows), '');
  lines.push(
    `PING (the cache fence's command): ${n(c('ping.cpuUs'))} µs CPU, ${n(c('ping.inBytes'), 0)} + ${n(c('ping.outBytes'), 0)} bytes. The verification measured carried a ${c('wire.verifyValueBytes')}-byte record.`,
    '',
    '### Memory per token',
    '',
  );
  const points = (file.evidence.memoryPoints ?? []) as MemoryPointShape[];
  lines.push(
    ...table(
      ['label', 'tokens per user', 'encoding', 'record bytes', 'used_memory per token', 'MEMORY USAGE per token'],
      points.map((p) => [`${p.label} (${p.labelBytes} B)`, String(p.devices), p.encoding, String(p.valueBytes), n(p.bytesPerToken), n(p.keyBytesPerToken)]),
    ),
    '',
    `Fitted (per user + per token × devices): listpack ${n(c('memory.listpack.perUserBytes'))} + ${n(c('memory.listpack.perTokenBytes'))} B at a ${c('memory.listpack.valueBytes')}-byte record; hashtable ${n(c('memory.hashtable.perUserBytes'))} + ${n(c('memory.hashtable.perTokenBytes'))} B at a ${c('memory.hashtable.valueBytes')}-byte record. Record: ${c('memory.recordFixedBytes')} bytes besides the user id and label, ${c('memory.lastUsedBytes')} more once touched. Cluster mode: ${n(c('memory.clusterKeyBytes'))} bytes more per key. Client-side caching: ${c('csc.invalidationsPerWrite')} invalidation per write per instance that had read the key (${c('csc.invalidationBytes')} bytes each).`,
    '',
  );
  lines.push('### Worked examples', '');
  for (const example of EXAMPLES) {
    const p = plan(constants, exampleWorkload(example.args));
    lines.push(`**${example.title}**: \`npm run capacity -- ${example.args}\``, '', '```text', renderPlan(p, constants), '```', '');
  }
  const first = exampleWorkload(EXAMPLES[0]!.args);
  lines.push(
    `How the first example's memory moves with the record's length (user id ${first.userIdBytes} bytes; a record crosses hash-max-listpack-value at ${c('memory.listpackValueMax')} bytes and its hash becomes a hashtable):`,
    '',
    ...table(
      ['--label-bytes', 'record once touched', 'encoding', 'bytes per token', 'dataset', 'shards for memory'],
      [0, 16, 23, 24, 36, 64, 117].map((labelBytes) => {
        const p = plan(constants, { ...first, labelBytes });
        return [String(labelBytes), `${p.valueBytes} B`, p.encoding, n(p.perTokenBytes, 0), `${n(p.datasetBytes / 1e9)} GB`, String(p.shardsForMemory)];
      }),
    ),
    '',
  );
  const cluster = file.evidence.cluster as ClusterEvidence | undefined;
  if (cluster !== undefined) {
    const s = cluster.slots;
    lines.push(
      '### Cluster evidence',
      '',
      `**Slot spread** (run \`${runId}\`): the keys of ${n(s.items, 0)} synthetic users (\`${s.keyExample}\` and so on), slot = CRC16 of the hash tag mod 16384 as Redis computes it (checked against \`CLUSTER KEYSLOT\` on a real node for ${s.checkedWithServer} keys: ${s.disagreements} disagreements). Mean ${n(s.mean, 2)} keys per slot, min ${s.min}, max ${s.max}: max/mean **${s.maxOverMean.toFixed(3)}** (a uniform random spread gives about ${s.expectedMaxOverMean.toFixed(3)}). Chi-square against uniform: χ² = ${n(s.chiSquare, 0)} on ${s.degreesOfFreedom} degrees of freedom, **p = ${s.pValue.toFixed(3)}** (no evidence against uniform).`,
      '',
      `**A 3-master loopback cluster under load** (run \`${runId}\`): ${n(cluster.users, 0)} users with one token each, verified at a paced ${n(cluster.perServerRate, 0)}/s per server (the cluster at three times that, users in a fixed stride), beside a single server at ${n(cluster.perServerRate, 0)}/s, ${cluster.rounds} interleaved rounds of ${cluster.secondsPerRound} s.`,
      '',
      `- Verifications per master: ${cluster.shares.map((x) => `${(x * 100).toFixed(1)}%`).join(', ')} (medians); the largest deviation from a third in any round: **${(cluster.worstShareDeviation * 100).toFixed(1)}%** (target ±10%).`,
      `- Redis main-thread CPU per verification: **${n(cluster.clusterCpuUs, 2)} µs** on the cluster (all masters) against **${n(cluster.singleCpuUs, 2)} µs** on the single server: **${cluster.cpuRatio.toFixed(2)}×** (median of per-round ratios, ${cluster.cpuRatioRounds.map((r) => r.toFixed(2)).join(', ')}; target within ±15%).`,
      `- Throughput scaling across shards cannot be shown on 2 cores: the three masters, the single server and the load generator share the same two cores, so adding a master adds no CPU to serve it with. What is shown instead is what the model needs: the keys spread evenly over the slots (so a shard's share of the load is a shard's share of the users), each master served its third of the verifications, and a verification costs a master about what it costs a single server, so per-shard CPU is the single-server figure times that shard's share. (Paced throughput here: ${n(cluster.clusterOpsPerSecond, 0)}/s over the cluster, ${n(cluster.singleOpsPerSecond, 0)}/s on the single server; both set by the pacing, not by Redis.)`,
      '',
    );
  }
  if (scale !== undefined) {
    lines.push(
      '### Scale run',
      '',
      `Run \`${scale.run}\` (\`npm run scale\`, commit \`${scale.commit}\`, ${Math.round(scale.seconds)} s; load average ${scale.loadAverage.start.join(', ')} at the start, ${scale.loadAverage.end.join(', ')} at the end), model constants from \`${runId}\`.`,
      '',
      `Verification: \`authenticate\` one call at a time, ${scale.phases[0]?.verify.perStore.toLocaleString('en-US') ?? '?'} calls per store in ${scale.phases[0]?.verify.rounds ?? '?'} interleaved rounds against a 10,000-token store of the same shape (the two back to back in each round). p50 and p99 are over all calls of each store; the ratios are the medians of the per-round ratios, which is what the ±15% check reads.`,
      '',
      ...table(
        ['store', 'written in', 'used_memory', 'model', 'measured / model', 'RSS / used', 'verify p50 / p99 (µs)', 'at 10,000 tokens', 'ratio p50 / p99'],
        scale.phases.map((p) => [
          `${n(p.users, 0)} users × ${p.devices} = ${n(p.tokens, 0)} tokens`,
          `${n(p.writeSeconds, 0)} s`,
          `${n(p.measuredBytes / 1e6)} MB`,
          `${n(p.modelBytes / 1e6)} MB`,
          `**${p.ratio.toFixed(3)}**`,
          p.rssOverUsed.toFixed(2),
          `${n(p.verify.p50)} / ${n(p.verify.p99)}`,
          `${n(p.verify.smallP50)} / ${n(p.verify.smallP99)}`,
          `**${p.verify.p50Ratio.toFixed(2)} / ${p.verify.p99Ratio.toFixed(2)}**`,
        ]),
      ),
      '',
      'Each script at that size, µs per call: EVALSHA on 2,000 users of the big store, one call at a time on one connection, against the bench\'s figures at the same tokens per user on a small store (four connections). In-command time is the comparable figure; CPU also carries each call\'s own wake-up here.',
      '',
      ...table(
        ['store', ...Object.keys(scale.phases[0]?.scripts ?? {})],
        scale.phases.map((p) => [
          `${p.devices} per user`,
          ...Object.entries(p.scripts).map(([op, s]) => {
            const benchExec = constants.has(`${op}.${p.devices}.execUs`) ? n(c(`${op}.${p.devices}.execUs`)) : '–';
            return `${n(s.execUs)} in-command (bench ${benchExec}); CPU ${n(s.cpuUs)} (bench ${s.benchCpuUs === null ? '–' : n(s.benchCpuUs)})`;
          }),
        ]),
      ),
      '',
    );
  }
  lines.push(END_MARKER);
  return lines.join('\n');
}

/** `document` with its generated part replaced (or appended when it has none). */
export function spliceGenerated(document: string, generated: string): string {
  const start = document.indexOf(START_MARKER);
  const end = document.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) return `${document.trimEnd()}\n\n${generated}\n`;
  return document.slice(0, start) + generated + document.slice(end + END_MARKER.length);
}
