// Cluster evidence that fits on two cores. (1) The slots of 1,000,000 synthetic users' keys,
// computed as Redis does (CRC16 of the hash tag), checked against CLUSTER KEYSLOT on a real
// node, and their spread against uniform. (2) A 3-master loopback cluster under verification
// load beside a single server under the same load: the share of verifications each master
// served, and Redis main-thread CPU per verification on both. Two cores cannot show throughput
// scaling across shards: three masters and the load generator share the same two cores.
import { setTimeout as sleep } from 'node:timers/promises';
import { createCluster, type RedisClientType } from 'redis';
import { startRedisCluster, type RedisCluster } from '../spec/support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../spec/support/redis-server.js';
import { dictTableBytes } from '../capacity/model.js';
import { SLOT_COUNT, keySlot, slotCounts, spreadOf, type Spread } from '../capacity/slots.js';
import { DEVICE, plainClient } from './contenders.js';
import { PREFIX, syntheticUserId } from './capacity-ops.js';
import { forEachConcurrently, median } from './measure.js';
import { keys as keyMath, pkg, token as tokenMath } from './package.js';
import { delta, meterOverhead, readServer, type MeterOverhead, type ServerReading } from './server-meter.js';
import { usedMemory } from './redis-info.js';
import type { MultiTokenRepository } from '../src/repository.js';

export interface SlotEvidence extends Spread {
  userIdExample: string;
  keyExample: string;
  /** Keys whose slot was asked of CLUSTER KEYSLOT, and how many disagreed with ours. */
  checkedWithServer: number;
  disagreements: number;
}

export interface ClusterEvidence {
  users: number;
  rounds: number;
  secondsPerRound: number;
  /** Share of the verifications each master served, per master, medians over rounds. */
  shares: number[];
  /** The largest |share − 1/3| / (1/3), over masters and rounds. */
  worstShareDeviation: number;
  /** Redis main-thread CPU per verification, µs: all masters together, and the single server. */
  clusterCpuUs: number;
  singleCpuUs: number;
  /** cluster / single, median of per-round ratios, and each round's. */
  cpuRatio: number;
  cpuRatioRounds: number[];
  /** The paced rate per server: the single server's, and each master's (a third of the cluster's). */
  perServerRate: number;
  /** Verifications per second in each (both on the same two cores: not a scaling figure). */
  clusterOpsPerSecond: number;
  singleOpsPerSecond: number;
  /** Memory per key a cluster node adds over a single server (its slot-to-key bookkeeping). */
  clusterKeyBytes: number;
  slots: SlotEvidence;
}

/** The slots of `count` synthetic users' keys, and a check of the CRC16 against the server. */
export async function slotSpread(count: number, node: RedisClientType): Promise<SlotEvidence> {
  const keyOf = (i: number): string => keyMath.tagKey(PREFIX, tokenMath.routingTag(syntheticUserId('u', i)));
  const counts = slotCounts((function* () {
    for (let i = 0; i < count; i++) yield keySlot(keyOf(i));
  })());
  const spread = spreadOf(counts);
  // Every 500th key, and keys whose hash-tag rule has edges, asked of the server itself.
  const checks = [...Array.from({ length: Math.ceil(count / 500) }, (_, j) => keyOf(j * 500)), 'foo', '{}x', 'a{}{b}', 'a{{b}}c', '{user1000}.following', 'no-tag-at-all', 'é{ü}'];
  let disagreements = 0;
  for (const key of checks) {
    const slot = Number(await node.sendCommand(['CLUSTER', 'KEYSLOT', key]));
    if (slot !== keySlot(key)) disagreements += 1;
  }
  return { ...spread, userIdExample: syntheticUserId('u', 0), keyExample: keyOf(0), checkedWithServer: checks.length, disagreements };
}

async function fill(repository: MultiTokenRepository, users: number): Promise<string[]> {
  const keys: string[] = new Array<string>(users).fill('');
  await forEachConcurrently(users, 64, async (i) => {
    keys[i] = (await repository.createToken({ id: syntheticUserId('k', i) }, { device: DEVICE })).token.key;
  });
  return keys;
}

/**
 * Verifies at a fixed rate for `ms`, users in a fixed stride so every user gets its share:
 * an open loop, so every server sees the same arrivals per second and per tick whatever the
 * machine's load, which is what makes CPU per verification comparable between them.
 */
async function pacedVerify(repository: MultiTokenRepository, keys: readonly string[], perSecond: number, ms: number): Promise<number> {
  const started = performance.now();
  const end = started + ms;
  const inFlight = new Set<Promise<void>>();
  let issued = 0;
  let failed: unknown;
  while (performance.now() < end && failed === undefined) {
    const due = Math.floor(((performance.now() - started) / 1000) * perSecond);
    while (issued < due && inFlight.size < 2000) {
      const key = keys[(issued * 7919) % keys.length]!;
      issued += 1;
      const call: Promise<void> = repository.authenticate(key).then(
        (found) => {
          inFlight.delete(call);
          if (found === null) failed = new Error('a verification failed');
        },
        (err: unknown) => {
          inFlight.delete(call);
          failed = err;
        },
      );
      inFlight.add(call);
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  if (failed !== undefined) throw failed instanceof Error ? failed : new Error('a verification failed', { cause: failed });
  return issued;
}

function cpuPerOp(before: ServerReading, after: ServerReading, overhead: MeterOverhead, ops: number): number {
  const d = delta(before, after);
  return Math.max(0, d.cpuUs - overhead.cpuUs - overhead.idleCpuUsPerMs * d.ms) / ops;
}

/** The cluster run: spread, shares and CPU per verification against a single server. */
export async function measureCluster(options: { users: number; rounds: number; secondsPerRound: number; slotIds: number; perServerRate: number }, log: (line: string) => void): Promise<ClusterEvidence> {
  let cluster: RedisCluster | undefined;
  let single: RedisServer | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    cluster = await startRedisCluster();
    single = await startRedisServer();
    const admins = await Promise.all(cluster.nodes.map((node) => plainClient(node.url)));
    const singleAdmin = await plainClient(single.url);
    const singleClient = await plainClient(single.url);
    const clusterClient = createCluster({ rootNodes: cluster.nodes.map((node) => ({ url: node.url })) });
    clusterClient.on('error', () => {});
    await clusterClient.connect();
    closers.push(...admins.map((a) => () => a.close()), () => singleAdmin.close(), () => singleClient.close(), () => clusterClient.close());

    const slots = await slotSpread(options.slotIds, admins[0]!);
    log(`  slots of ${options.slotIds} users: max/mean ${slots.maxOverMean.toFixed(3)} (uniform would give about ${slots.expectedMaxOverMean.toFixed(3)}), χ² ${slots.chiSquare.toFixed(0)} on ${slots.degreesOfFreedom} dof, p = ${slots.pValue.toFixed(3)}; CLUSTER KEYSLOT disagreed on ${slots.disagreements} of ${slots.checkedWithServer}`);

    const settings = { keyPrefix: PREFIX, maxTokensPerUser: null, touchInterval: 3600 };
    const clusterRepository = new pkg.MultiTokenRepository({ redis: clusterClient, ...settings });
    const singleRepository = new pkg.MultiTokenRepository({ redis: singleClient, ...settings });
    // Load the create script on every node first: the script cache is not per key.
    for (let i = 0; i < 64; i++) await clusterRepository.createToken({ id: syntheticUserId('w', i) });
    await singleRepository.createToken({ id: syntheticUserId('w', 0) });
    const memoryBefore = await Promise.all([...admins, singleAdmin].map((a) => usedMemory(a)));
    const clusterKeys = await fill(clusterRepository, options.users);
    const singleKeys = await fill(singleRepository, options.users);
    const memoryAfter = await Promise.all([...admins, singleAdmin].map((a) => usedMemory(a)));
    const keysPerNode = await Promise.all(admins.map((a) => a.dbSize()));
    const clusterBytes = memoryAfter.slice(0, 3).reduce((s, v, i) => s + v - memoryBefore[i]! - (dictTableBytes(keysPerNode[i]!) - dictTableBytes(keysPerNode[i]! - options.users / 3)), 0);
    const singleBytes = memoryAfter[3]! - memoryBefore[3]! - (dictTableBytes(options.users + 1) - dictTableBytes(1));
    const clusterKeyBytes = (clusterBytes - singleBytes) / options.users;

    // Warm both paths, then measure what reading the counters costs on each node.
    await pacedVerify(clusterRepository, clusterKeys, 3 * options.perServerRate, 300);
    await pacedVerify(singleRepository, singleKeys, options.perServerRate, 300);
    const overheads = await Promise.all(admins.map((a) => meterOverhead(a)));
    const singleOverhead = await meterOverhead(singleAdmin);

    const ms = options.secondsPerRound * 1000;
    const shareRounds: number[][] = [];
    const ratios: number[] = [];
    const clusterCpu: number[] = [];
    const singleCpu: number[] = [];
    const clusterRate: number[] = [];
    const singleRate: number[] = [];
    for (let r = 1; r <= options.rounds; r++) {
      // The same arrivals on every server: the single server at the per-server rate, the
      // cluster at three times it; which one goes first alternates.
      const runSingle = async (): Promise<[ServerReading, number, ServerReading]> => {
        const before = await readServer(singleAdmin);
        const ops = await pacedVerify(singleRepository, singleKeys, options.perServerRate, ms);
        return [before, ops, await readServer(singleAdmin)];
      };
      const runCluster = async (): Promise<[ServerReading[], number, ServerReading[]]> => {
        const before = await Promise.all(admins.map((a) => readServer(a)));
        const ops = await pacedVerify(clusterRepository, clusterKeys, 3 * options.perServerRate, ms);
        return [before, ops, await Promise.all(admins.map((a) => readServer(a)))];
      };
      let s: [ServerReading, number, ServerReading];
      let k: [ServerReading[], number, ServerReading[]];
      if (r % 2 === 1) {
        s = await runSingle();
        k = await runCluster();
      } else {
        k = await runCluster();
        s = await runSingle();
      }
      const [s0, singleOps, s1] = s;
      const [c0, clusterOps, c1] = k;
      const hgets = c0.map((b, i) => delta(b, c1[i]!).calls('hget'));
      const total = hgets.reduce((s, v) => s + v, 0);
      if (total < clusterOps) throw new Error(`the masters saw ${total} HGETs for ${clusterOps} verifications`);
      shareRounds.push(hgets.map((h) => h / total));
      const perNode = c0.map((b, i) => cpuPerOp(b, c1[i]!, overheads[i]!, 1));
      const cCpu = perNode.reduce((s, v) => s + v, 0) / clusterOps;
      const sCpu = cpuPerOp(s0, s1, singleOverhead, singleOps);
      clusterCpu.push(cCpu);
      singleCpu.push(sCpu);
      ratios.push(cCpu / sCpu);
      clusterRate.push(clusterOps / options.secondsPerRound);
      singleRate.push(singleOps / options.secondsPerRound);
      log(`  round ${r}/${options.rounds}: shares ${shareRounds.at(-1)!.map((s) => s.toFixed(3)).join(' / ')}, CPU per verification ${cCpu.toFixed(1)} µs (cluster) vs ${sCpu.toFixed(1)} µs (single)`);
    }
    const shares = [0, 1, 2].map((i) => median(shareRounds.map((round) => round[i]!)));
    const worstShareDeviation = Math.max(...shareRounds.flat().map((s) => Math.abs(s - 1 / 3) * 3));
    return {
      users: options.users,
      perServerRate: options.perServerRate,
      rounds: options.rounds,
      secondsPerRound: options.secondsPerRound,
      shares,
      worstShareDeviation,
      clusterCpuUs: median(clusterCpu),
      singleCpuUs: median(singleCpu),
      cpuRatio: median(ratios),
      cpuRatioRounds: ratios,
      clusterOpsPerSecond: median(clusterRate),
      singleOpsPerSecond: median(singleRate),
      clusterKeyBytes,
      slots,
    };
  } finally {
    for (const close of closers) await close().catch(() => {});
    await cluster?.stop();
    await single?.stop();
  }
}

export { SLOT_COUNT };
