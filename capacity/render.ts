// The plan as text: what `npm run capacity` prints and CAPACITY.md's worked examples show.
import type { Constants } from './constants.js';
import type { Load, Plan, Side } from './model.js';

const GB = 1e9;

function count(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

function bytes(n: number): string {
  if (n >= 1e12) return `${(n / 1e12).toFixed(2)} TB`;
  if (n >= GB) return `${(n / GB).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e3).toFixed(1)} kB`;
}

function bits(bytesPerSecond: number): string {
  const b = bytesPerSecond * 8;
  return b >= 1e9 ? `${(b / 1e9).toFixed(2)} Gbit/s` : `${(b / 1e6).toFixed(1)} Mbit/s`;
}

const LABELS: Record<Load['operation'], string> = {
  verify: 'verify (HGET)',
  touch: 'touch',
  create: 'login (create)',
  revoke: 'logout (revoke)',
  list: 'list devices',
  expireAll: 'log out everywhere',
  ping: 'cache fence PING',
};

function sideLines(title: string, s: Side, replicas: number): string[] {
  const lines = [title];
  for (const load of s.loads) {
    if (load.perSecond === 0) continue;
    lines.push(`  ${LABELS[load.operation].padEnd(20)} ${count(load.perSecond).padStart(12)}/s   ${(load.cores).toFixed(3).padStart(7)} cores   ${bits(load.bytesPerSecond).padStart(14)}`);
  }
  if (s.invalidationsPerSecond > 0) lines.push(`  ${'invalidations sent'.padEnd(20)} ${count(s.invalidationsPerSecond).padStart(12)}/s`);
  lines.push(
    `  Redis main-thread CPU: ${s.cores.toFixed(2)} cores; at the CPU target: ${s.coresAtTarget.toFixed(2)} cores → ${s.shardsForCpu} shard(s) for CPU`,
    `  shards: ${s.shards}`,
    `  network, clients ↔ primaries: ${bits(s.clientBytesPerSecond)} RESP payload, ${bits(s.clientWireBytesPerSecond)} with one packet each way per command (${bits(s.clientWireBytesPerSecond / s.shards)} per shard)`,
  );
  if (replicas > 0) lines.push(`  replication: ${bits(s.replicationBytesPerSecond)} to ${replicas} replica(s) per shard; a replica applies it with ${s.replicaCores.toFixed(3)} cores (all shards)`);
  return lines;
}

/** The plan as the lines `npm run capacity` prints. */
export function renderPlan(p: Plan, constants: Constants): string {
  const w = p.workload;
  const runs = [...new Set([...constants.values()].map((c) => c.run))];
  const lines = [
    `Capacity plan: ${count(w.users)} users × ${w.devices} devices = ${count(p.tokens)} tokens; ${count(w.verifyRps)} verifications/s, ${count(w.loginRps)} logins/s, ${count(w.logoutRps)} logouts/s`,
    `(constants from ${runs.join(', ')}; capacity/constants.json)`,
    '',
    'Memory',
    `  record: ${p.valueBytes} bytes once touched (${w.userIdBytes}-byte user id, ${w.labelBytes}-byte label) → ${p.encoding} hashes`,
    `  per token ${p.perTokenBytes.toFixed(0)} B, per user ${p.perUserBytes.toFixed(0)} B + ${w.devices} × ${p.perTokenBytes.toFixed(0)} B = ${(p.perUserBytes + w.devices * p.perTokenBytes).toFixed(0)} B`,
    `  dataset (used_memory, all shards): ${bytes(p.datasetBytes)}`,
    `  × fragmentation ${w.fragmentation} = RSS ${bytes(p.rssBytes)}; + ${Math.round(w.copyOnWrite * 100)}% copy-on-write headroom for a fork = ${bytes(p.ramPerCopyBytes)} per copy`,
    `  with ${w.replicas} replica(s): ${bytes(p.totalRamBytes)} of RAM in all`,
    `  shards for memory (≤ ${bytes(w.maxShardBytes)} RSS each): ${p.shardsForMemory} → ${bytes(p.rssBytes / p.shardsForMemory)} RSS and ${bytes(p.ramPerCopyBytes / p.shardsForMemory)} RAM per node`,
    '',
    `Load (touch: ${Math.round(w.touchFraction * 100)}% of verifications, at most one per token per ${w.touchIntervalSeconds} s; writes ${count(p.writesPerSecond)}/s)`,
    ...sideLines('Without client-side caching', p.uncached, w.replicas),
    '',
    ...sideLines(
      `With client-side caching, requests spread over ${w.appInstances} app instances (a user's hash cached in ${count(p.cacheHolders)} of them; cacheFence ${w.cacheFenceMs} ms): ${(p.cacheHitShare * 100).toFixed(1)}% of verifications answered in process`,
      p.cached,
      w.replicas,
    ),
    '',
    ...sideLines(
      `With client-side caching and sticky routing (each user's requests on one instance): ${(p.cacheHitShareSticky * 100).toFixed(1)}% of verifications answered in process`,
      p.cachedSticky,
      w.replicas,
    ),
    '',
    `Plan: ${p.uncached.shards} shard(s) × (1 primary + ${w.replicas} replica(s)) without caching; ${p.cached.shards} with caching over round-robin instances, ${p.cachedSticky.shards} with sticky routing. Each node ${bytes(p.ramPerCopyBytes / p.uncached.shards)} of RAM (RSS + fork headroom), its main thread at ${Math.round(w.cpuTarget * 100)}% of one core at most.`,
  ];
  for (const note of p.notes) lines.push(`Note: ${note}`);
  return lines.join('\n');
}
