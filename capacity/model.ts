// The capacity model, pure: from a workload (users, devices, rates) and the measured constants
// to memory, Redis CPU, shards and bandwidth, with and without client-side caching. Every
// formula is written out in CAPACITY.md; the names here follow it.
import { SIZES, valueOf, type Constants, type Encoding, type Operation, type WriteOperation } from './constants.js';

/** The workload and the operator's margins. */
export interface Workload {
  users: number;
  /** Live tokens (devices) per user. */
  devices: number;
  verifyRps: number;
  loginRps: number;
  /** Single-device logouts per second. */
  logoutRps: number;
  /** Device lists (a devices page) per second. */
  listRps: number;
  /** Share of verifications that fall due for a touch (at most one per token per touch interval). */
  touchFraction: number;
  /** The repository's touchInterval, seconds. */
  touchIntervalSeconds: number;
  replicas: number;
  /** Bytes of the device label stored with each token (UTF-8). */
  labelBytes: number;
  /** Bytes of a user id (UTF-8). */
  userIdBytes: number;
  /** used_memory_rss over used_memory to allow for. */
  fragmentation: number;
  /** Extra share of RSS a fork (BGSAVE, AOF rewrite, full sync) may copy on write. */
  copyOnWrite: number;
  /** The largest RSS one shard may hold, in bytes. */
  maxShardBytes: number;
  /** The CPU share of its one core a shard's main thread may use. */
  cpuTarget: number;
  /** App instances, each with its own connection (and its own client-side cache). */
  appInstances: number;
  /** The repository's cacheFence, ms: each caching instance PINGs at most every half of it. */
  cacheFenceMs: number;
}

/** One operation's share of the load. */
export interface Load {
  operation: Operation | 'ping';
  perSecond: number;
  /** Redis main-thread CPU, cores (CPU-seconds per second). */
  cores: number;
  /** Bytes per second, client to Redis plus Redis to client. */
  bytesPerSecond: number;
}

/** What one configuration (with or without client-side caching) needs. */
export interface Side {
  loads: Load[];
  /** Redis main-thread CPU of every shard together, cores. */
  cores: number;
  /** Cores at the CPU target: how many main threads, each at that share. */
  coresAtTarget: number;
  shardsForCpu: number;
  shards: number;
  /** Client ↔ primaries, RESP payload, bytes/s. */
  clientBytesPerSecond: number;
  /** The same with one TCP/IP packet each way per command (unbatched), bytes/s. */
  clientWireBytesPerSecond: number;
  /** Primaries → replicas, bytes/s (all replicas). */
  replicationBytesPerSecond: number;
  /** CPU of one replica set applying the writes, cores. */
  replicaCores: number;
  /** Invalidation messages Redis sends per second (caching only). */
  invalidationsPerSecond: number;
}

/** The plan. */
export interface Plan {
  workload: Workload;
  tokens: number;
  encoding: Encoding;
  /** Bytes of one stored record once touched (the steady state). */
  valueBytes: number;
  perTokenBytes: number;
  perUserBytes: number;
  /** used_memory of all primaries together, bytes, in cluster mode when more than one shard. */
  datasetBytes: number;
  /** The same, times fragmentation. */
  rssBytes: number;
  /** RSS plus the copy-on-write headroom of a fork: what one copy of the data needs of RAM. */
  ramPerCopyBytes: number;
  /** RAM of primaries and replicas together. */
  totalRamBytes: number;
  shardsForMemory: number;
  touchesPerSecond: number;
  writesPerSecond: number;
  uncached: Side;
  /** Client-side caching with requests spread over the instances (round-robin). */
  cached: Side;
  /** Share of verifications the client-side caches answer, round-robin. */
  cacheHitShare: number;
  /** Instances holding one user's hash at a time, round-robin. */
  cacheHolders: number;
  /** Client-side caching with each user's requests on one instance (sticky routing). */
  cachedSticky: Side;
  cacheHitShareSticky: number;
  notes: string[];
}

/** Ethernet (14) + IPv4 (20) + TCP with timestamps (32): one packet's headers, bytes. */
export const PACKET_HEADER_BYTES = 66;
/** A 64-bit pointer: one bucket of a Redis dict's table. */
const DICT_BUCKET_BYTES = 8;

/**
 * The bytes of the keyspace's two dict tables (keys, and expires: every hash has a TTL) for
 * `keys` keys: each a power of two of buckets, at least 4, doubled when full.
 */
export function dictTableBytes(keys: number): number {
  if (keys <= 0) return 0;
  let buckets = 4;
  while (buckets < keys) buckets *= 2;
  return 2 * DICT_BUCKET_BYTES * buckets;
}

/**
 * A measured per-size figure at `devices` tokens per user: linear between the measured sizes
 * (1, 10, 100), the first figure below 1, and the last segment's slope beyond 100.
 */
export function atSize(constants: Constants, name: (size: number) => string, devices: number): number {
  const points = SIZES.map((size) => ({ size, value: valueOf(constants, name(size)) }));
  if (devices <= points[0]!.size) return points[0]!.value;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (devices <= b.size || i === points.length - 1) {
      return Math.max(0, a.value + ((b.value - a.value) * (devices - a.size)) / (b.size - a.size));
    }
  }
  return points.at(-1)!.value;
}

/** Which encoding a user's hash takes: listpack while every value and the entry count are small. */
export function encodingFor(constants: Constants, valueBytes: number, devices: number): Encoding {
  return valueBytes <= valueOf(constants, 'memory.listpackValueMax') && devices <= valueOf(constants, 'memory.listpackEntriesMax')
    ? 'listpack'
    : 'hashtable';
}

/**
 * The bytes of one stored record: the fixed part (times, separators), the user id, the label,
 * and with `touched` the last-used time every record carries after its first touch.
 */
export function recordBytes(constants: Constants, userIdBytes: number, labelBytes: number, touched: boolean): number {
  return valueOf(constants, 'memory.recordFixedBytes') + userIdBytes + labelBytes + (touched ? valueOf(constants, 'memory.lastUsedBytes') : 0);
}

/**
 * used_memory of `users` users with `devices` tokens each whose records are `valueBytes` long,
 * on `shards` shards (cluster mode, with its per-key bookkeeping, when more than one).
 */
export function datasetBytes(constants: Constants, users: number, devices: number, valueBytes: number, shards: number): { bytes: number; encoding: Encoding; perUser: number; perToken: number } {
  const encoding = encodingFor(constants, valueBytes, devices);
  // Within an encoding a record costs one more byte per byte of value (a listpack entry, or the
  // value's own allocation); the measured value length anchors it.
  const perToken = valueOf(constants, `memory.${encoding}.perTokenBytes`) + (valueBytes - valueOf(constants, `memory.${encoding}.valueBytes`));
  const perUser = valueOf(constants, `memory.${encoding}.perUserBytes`) + (shards > 1 ? valueOf(constants, 'memory.clusterKeyBytes') : 0);
  const usersPerShard = Math.ceil(users / shards);
  const bytes = users * (perUser + devices * perToken) + shards * dictTableBytes(usersPerShard);
  return { bytes, encoding, perUser, perToken };
}

function side(constants: Constants, w: Workload, rates: Record<Operation | 'ping', number>, invalidationsPerSecond: number, shardsForMemory: number): Side {
  const d = w.devices;
  const loads: Load[] = [];
  let cores = 0;
  let clientBytes = 0;
  let packets = 0;
  for (const operation of Object.keys(rates) as (Operation | 'ping')[]) {
    const perSecond = rates[operation];
    const metric = (m: string): number => (operation === 'ping' ? valueOf(constants, `ping.${m}`) : atSize(constants, (size) => `${operation}.${size}.${m}`, d));
    // Verification replies carry the record: adjust for a record longer or shorter than measured.
    const recordDelta = operation === 'verify' ? recordBytes(constants, w.userIdBytes, w.labelBytes, true) - valueOf(constants, 'wire.verifyValueBytes') : 0;
    const load: Load = { operation, perSecond, cores: (perSecond * metric('cpuUs')) / 1e6, bytesPerSecond: perSecond * (metric('inBytes') + metric('outBytes') + recordDelta) };
    loads.push(load);
    cores += load.cores;
    clientBytes += load.bytesPerSecond;
    packets += 2 * perSecond;
  }
  // An invalidation is one small push to an app instance: priced as a PING's CPU.
  const invalidationCores = (invalidationsPerSecond * valueOf(constants, 'ping.cpuUs')) / 1e6;
  cores += invalidationCores;
  clientBytes += invalidationsPerSecond * valueOf(constants, 'csc.invalidationBytes');
  packets += invalidationsPerSecond;
  let replicationPerSecond = 0;
  let replicaCores = 0;
  for (const op of ['touch', 'create', 'revoke', 'expireAll'] as const satisfies readonly WriteOperation[]) {
    replicationPerSecond += rates[op] * atSize(constants, (size) => `${op}.${size}.replBytes`, d);
    replicaCores += (rates[op] * atSize(constants, (size) => `${op}.${size}.replicaCpuUs`, d)) / 1e6;
  }
  const coresAtTarget = cores / w.cpuTarget;
  const shardsForCpu = Math.max(1, Math.ceil(coresAtTarget));
  return {
    loads,
    cores,
    coresAtTarget,
    shardsForCpu,
    shards: Math.max(shardsForMemory, shardsForCpu),
    clientBytesPerSecond: clientBytes,
    clientWireBytesPerSecond: clientBytes + packets * PACKET_HEADER_BYTES,
    replicationBytesPerSecond: replicationPerSecond * w.replicas,
    replicaCores,
    invalidationsPerSecond,
  };
}

/** The plan for a workload. */
export function plan(constants: Constants, w: Workload): Plan {
  const notes: string[] = [];
  const tokens = w.users * w.devices;
  const valueBytes = recordBytes(constants, w.userIdBytes, w.labelBytes, true);
  // Shards for memory: a fixed point, since cluster mode adds a little per key.
  let shardsForMemory = 1;
  let dataset = datasetBytes(constants, w.users, w.devices, valueBytes, 1);
  for (let i = 0; i < 8; i++) {
    const needed = Math.max(1, Math.ceil((dataset.bytes * w.fragmentation) / w.maxShardBytes));
    if (needed === shardsForMemory) break;
    shardsForMemory = needed;
    dataset = datasetBytes(constants, w.users, w.devices, valueBytes, shardsForMemory);
  }
  const rssBytes = dataset.bytes * w.fragmentation;
  const ramPerCopyBytes = rssBytes * (1 + w.copyOnWrite);

  // Touches: a share of verifications, and never more than one per token per interval.
  const touchesPerSecond = Math.min(w.verifyRps * w.touchFraction, tokens / w.touchIntervalSeconds);
  const writesPerSecond = touchesPerSecond + w.loginRps + w.logoutRps;
  const base = { verify: w.verifyRps, touch: touchesPerSecond, create: w.loginRps, revoke: w.logoutRps, list: w.listRps, expireAll: 0, ping: 0 };
  const uncached = side(constants, w, base, 0, shardsForMemory);

  // Client-side caching: a user's hash is cached by every instance that verified one of its
  // tokens since the last write to it; each write invalidates it there, and each such instance
  // misses once afterwards. With requests spread over the instances, a token verified r times
  // per touch (r = 1 / touchFraction) is held by min(instances, r) of them; with sticky
  // routing, by one.
  const pingsPerSecond = w.appInstances * (2000 / w.cacheFenceMs);
  const caching = (holders: number): { side: Side; hitShare: number } => {
    const invalidationsPerSecond = writesPerSecond * holders * valueOf(constants, 'csc.invalidationsPerWrite');
    const missesPerSecond = Math.min(w.verifyRps, invalidationsPerSecond);
    return {
      side: side(constants, w, { ...base, verify: missesPerSecond, ping: pingsPerSecond }, invalidationsPerSecond, shardsForMemory),
      hitShare: w.verifyRps === 0 ? 0 : 1 - missesPerSecond / w.verifyRps,
    };
  };
  const cacheHolders = Math.min(w.appInstances, 1 / Math.max(w.touchFraction, 1e-9));
  const roundRobin = caching(cacheHolders);
  const sticky = caching(1);

  if (w.devices > valueOf(constants, 'memory.listpackEntriesMax')) notes.push('more devices per user than a listpack holds: every hash is a hashtable');
  if (w.devices > 100) notes.push('beyond 100 devices per user the per-operation costs are extrapolated from the 10 and 100 measurements');
  if (dataset.encoding === 'hashtable' && w.devices <= valueOf(constants, 'memory.listpackEntriesMax')) {
    notes.push(`records of ${valueBytes} bytes exceed hash-max-listpack-value (${valueOf(constants, 'memory.listpackValueMax')}): hashtable encoding, about twice the memory`);
  }
  return {
    workload: w,
    tokens,
    encoding: dataset.encoding,
    valueBytes,
    perTokenBytes: dataset.perToken,
    perUserBytes: dataset.perUser,
    datasetBytes: dataset.bytes,
    rssBytes,
    ramPerCopyBytes,
    totalRamBytes: ramPerCopyBytes * (1 + w.replicas),
    shardsForMemory,
    touchesPerSecond,
    writesPerSecond,
    uncached,
    cached: roundRobin.side,
    cacheHitShare: roundRobin.hitShare,
    cacheHolders,
    cachedSticky: sticky.side,
    cacheHitShareSticky: sticky.hitShare,
    notes,
  };
}
