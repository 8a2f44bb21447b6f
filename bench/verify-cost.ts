// CPU per verification of ours, part by part, with no Redis and no node-redis underneath: the
// store answers every read at once from memory, so what is left is our own code and
// Passport's calling convention. One process, one core, CPU time (process.cpuUsage), so
// other load on the machine slows it less than it slows the throughput figures.
//   node --import tsx bench/verify-cost.ts [calls=300000] [rounds=5]
// Then the memory each whole verification allocates, and the floor's: V8's sampling heap
// profiler, counting objects the garbage collector has already taken too.
import { createHash } from 'node:crypto';
import { Session } from 'node:inspector/promises';
import { bearerRequest, MinimalHashedStrategy, passportCall, USER_ID, DEVICE } from './contenders.js';
import { median } from './measure.js';
import { bearer, deadline as deadlineMath, pkg, record as recordMath, token as tokenMath, tokenInfo } from './package.js';

const [callsArg = '300000', roundsArg = '5'] = process.argv.slice(2);
const calls = Number(callsArg);
const rounds = Number(roundsArg);

const key = tokenMath.generateToken('rmt', tokenMath.routingTag(USER_ID));
const id = tokenMath.tokenId(key, null);
const now = Date.now();
const stored = [now.toString(36), (now + 14 * 86400e3).toString(36), '', USER_ID, recordMath.recordTail(['*'], DEVICE, {})].join(recordMath.SEPARATOR);
const answer = Promise.resolve(stored);
const missing = Promise.resolve(null);
// A node-redis-shaped client that answers at once.
const memoryClient = {
  hGet: (_key: string, field: string): Promise<string | null> => (field === id ? answer : missing),
  hmGet: (): Promise<unknown> => Promise.resolve([]),
  evalSha: (): Promise<unknown> => Promise.resolve(0),
  eval: (): Promise<unknown> => Promise.resolve(0),
};
const repository = new pkg.MultiTokenRepository({ redis: memoryClient });
const strategy = new pkg.RedisMultiTokenStrategy({ repository });
const viaPassport = passportCall(strategy, bearerRequest(key));
// The floor on the same store: the minimal hashed-token strategy (header, digest, one read, success).
const minimal = passportCall(new MinimalHashedStrategy((field) => memoryClient.hGet('', field)), bearerRequest(key));
const deadline = new deadlineMath.CallDeadline(2000);
const read = (): Promise<string | null> => answer;
const decoded = recordMath.decodeRecord(stored, 'HGET');
const request = bearerRequest(key);
interface Part {
  name: string;
  run: () => unknown;
  async: boolean;
}

const parts: Part[] = [
  { name: 'whole verification: strategy.authenticate as Passport calls it', run: viaPassport, async: true },
  { name: 'the floor: the minimal hashed-token strategy as Passport calls it', run: minimal, async: true },
  { name: 'repository.authenticate(key) (a promise, as the public call gives)', run: () => repository.authenticate(key), async: true },
  { name: '  extractToken (the Authorization header, RFC 6750)', run: () => bearer.extractToken(request, ['header']), async: false },
  { name: '  tokenTag (format, base62, CRC-32 checksum)', run: () => tokenMath.tokenTag(key, 'rmt'), async: false },
  { name: '  tokenId (SHA-256, first 108 bits, base64url, fingerprint)', run: () => tokenMath.tokenId(key, null), async: false },
  { name: '  decodeRecord', run: () => recordMath.decodeRecord(stored, 'HGET'), async: false },
  { name: '  CallDeadline.guard around a read that answers at once', run: () => deadline.guard(read, 'HGET'), async: true },
  { name: '  tokenInfo: the object, three Dates and the brand', run: () => tokenInfo.tokenInfo(id, decoded), async: false },
  { name: '  … the three Dates alone', run: () => [new Date(now), new Date(now), new Date(now)], async: false },
  { name: 'for scale: createHash SHA-256 hex (passport-http-bearer setups)', run: () => createHash('sha256').update(key).digest('hex'), async: false },
  { name: 'for scale: an awaited resolved promise (the harness alone)', run: () => answer, async: true },
];

async function cpuPerCall(part: Part): Promise<number> {
  const before = process.cpuUsage();
  if (part.async) for (let i = 0; i < calls; i++) await part.run();
  else for (let i = 0; i < calls; i++) part.run();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

const samples = new Map<string, number[]>(parts.map((part) => [part.name, []]));
for (const part of parts) await cpuPerCall(part); // warm-up
for (let round = 0; round < rounds; round++) {
  for (const part of parts) samples.get(part.name)!.push(await cpuPerCall(part));
}
console.log(`CPU per call, µs: median of ${rounds} interleaved rounds of ${calls.toLocaleString('en-US')} calls (min–max)`);
for (const part of parts) {
  const list = samples.get(part.name)!;
  console.log(`${median(list).toFixed(2).padStart(6)}  (${Math.min(...list).toFixed(2)}–${Math.max(...list).toFixed(2)})  ${part.name}`);
}

// Bytes allocated per call: every sampled allocation (including those already collected),
// over `calls` calls of `run`.
async function bytesPerCall(run: () => unknown): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    for (let i = 0; i < 10_000; i++) await run();
    // These two flags are in V8's protocol but not yet in Node's types.
    const flags = { samplingInterval: 128, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
    await session.post('HeapProfiler.startSampling', flags as { samplingInterval: number });
    for (let i = 0; i < calls; i++) await run();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    let total = 0;
    const visit = (node: { selfSize: number; children: unknown[] }): void => {
      total += node.selfSize;
      for (const child of node.children) visit(child as { selfSize: number; children: unknown[] });
    };
    visit(profile.head);
    return total / calls;
  } finally {
    session.disconnect();
  }
}

console.log('\nMemory allocated per call (V8 sampling heap profiler, collected objects included):');
for (const part of parts.slice(0, 2)) console.log(`${Math.round(await bytesPerCall(part.run)).toString().padStart(6)} B  ${part.name}`);
