// Redis-side cost of each operation at 1, 10 and 100 tokens per user, read from the server's
// own counters (INFO cpu, commandstats, stats): main-thread CPU, command time and bytes in and
// out per operation; then, with a replica attached, the replication stream and the replica's
// CPU per write. Many users per size, so each phase spreads over many keys as production does;
// several connections with one command in flight each, so every command arrives on its own
// read as it does from many app instances; phases interleave across sizes round by round.
import type { RedisClientType } from 'redis';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer, type RedisServer } from '../spec/support/redis-server.js';
import { OPERATIONS, SIZES, WRITE_OPERATIONS, type Operation, type Size, type WriteOperation } from '../capacity/constants.js';
import { DEVICE, plainClient } from './contenders.js';
import { median } from './measure.js';
import { keys as keyMath, pkg, scripts, token as tokenMath } from './package.js';
import { delta, meterOverhead, perOperation, readServer, type MeterOverhead } from './server-meter.js';
import type { MultiTokenRepository } from '../src/repository.js';

/** The key prefix of an app that configures nothing. */
export const PREFIX = 'rmt:';
const LOOPS = 4;

export interface OpsSettings {
  /** Users per size; each phase runs one operation per user (verification: three). */
  users: Record<Size, number>;
  rounds: number;
  /** Users per size for the replication phase. */
  replicationUsers: number;
}

export interface OpCost {
  cpuUs: number;
  execUs: number;
  inBytes: number;
  outBytes: number;
  /** Per round, for the spread. */
  cpuUsRounds: number[];
}

export interface OpsResult {
  costs: Record<Operation, Record<Size, OpCost>>;
  ping: OpCost;
  /** Verification with 64 in flight on one connection (commands batched): CPU µs per call, per round. */
  verifyBatchedCpuUs: number[];
  /** The record's length in the verification reply measured. */
  verifyValueBytes: number;
  replication: Record<WriteOperation, Record<Size, { replBytes: number; replicaCpuUs: number }>>;
  overhead: MeterOverhead;
}

/** A fixed-length synthetic user id: a letter, then 11 digits (12 bytes). */
export function syntheticUserId(letter: string, i: number): string {
  return `${letter}${String(i).padStart(11, '0')}`;
}

const VERIFY_PASSES = 3;

interface Pool {
  clients: RedisClientType[];
  repositories: MultiTokenRepository[];
  close(): Promise<void>;
}

async function pool(url: string): Promise<Pool> {
  const clients: RedisClientType[] = [];
  for (let i = 0; i < LOOPS; i++) clients.push(await plainClient(url));
  const repositories = clients.map(
    (client) => new pkg.MultiTokenRepository({ redis: client, keyPrefix: PREFIX, maxTokensPerUser: null, touchInterval: 3600 }),
  );
  return {
    clients,
    repositories,
    async close() {
      for (const client of clients) await client.close().catch(() => {});
    },
  };
}

/** Runs `count` operations from LOOPS loops, loop j on connection j, one in flight each. */
async function spread(count: number, op: (i: number, loop: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: LOOPS }, async (_, loop) => {
      while (next < count) {
        const i = next++;
        await op(i, loop);
      }
    }),
  );
}

const sizeLetter = (size: number): string => (size === 1 ? 'a' : size === 10 ? 'b' : 'c');

/** The hash that holds a user's tokens under the default prefix. */
export function hashKeyOf(userId: string): string {
  return keyMath.tagKey(PREFIX, tokenMath.routingTag(userId));
}

/** Brings every user of `size` up to `count` tokens through createToken; returns the last key of each. */
async function fillTo(p: Pool, size: number, users: number, count: number): Promise<string[]> {
  const last: string[] = new Array<string>(users).fill('');
  for (let t = 0; t < count; t++) {
    await spread(users, async (i, loop) => {
      last[i] = (await p.repositories[loop]!.createToken({ id: syntheticUserId(sizeLetter(size), i) }, { device: DEVICE })).token.key;
    });
  }
  return last;
}

/** A touch exactly as the repository sends it, with an interval of 0 so it always writes. */
export async function touchScript(client: RedisClientType, hashKey: string, id: string): Promise<unknown> {
  // As the repository sends it, with an interval of 0 so every touch writes.
  try {
    return await client.evalSha(scripts.TOUCH_TOKEN.sha1, { keys: [hashKey], arguments: [id, '0', '0'] });
  } catch {
    return client.eval(scripts.TOUCH_TOKEN.source, { keys: [hashKey], arguments: [id, '0', '0'] });
  }
}

type Samples = Record<Operation, Record<Size, { cpuUs: number[]; execUs: number[]; inBytes: number[]; outBytes: number[] }>>;

function emptySamples(): Samples {
  const out = {} as Samples;
  for (const op of OPERATIONS) {
    out[op] = {} as Samples[Operation];
    for (const size of SIZES) out[op][size] = { cpuUs: [], execUs: [], inBytes: [], outBytes: [] };
  }
  return out;
}

/** Runs one phase of `ops` operations and prices it from the server's counters. */
export async function phase(admin: RedisClientType, overhead: MeterOverhead, ops: number, command: string, run: () => Promise<void>): Promise<ReturnType<typeof perOperation>> {
  const before = await readServer(admin);
  await run();
  const after = await readServer(admin);
  const d = delta(before, after);
  if (d.calls(command) < ops) throw new Error(`expected ${ops} ${command} calls in the phase, saw ${d.calls(command)}`);
  return perOperation(d, ops, overhead, command);
}

/** One round at one size: create, verify, touch, list, revoke, then expire-all; each phase priced alone. */
async function round(admin: RedisClientType, p: Pool, overhead: MeterOverhead, size: Size, users: number, samples: Samples): Promise<void> {
  const record = (op: Operation, r: ReturnType<typeof perOperation>): void => {
    const s = samples[op][size];
    s.cpuUs.push(r.cpuUs);
    s.execUs.push(r.execUs);
    s.inBytes.push(r.inBytes);
    s.outBytes.push(r.outBytes);
  };
  const userAt = (i: number): { id: string } => ({ id: syntheticUserId(sizeLetter(size), i) });
  await fillTo(p, size, users, size - 1);
  const keys: string[] = new Array<string>(users).fill('');
  record('create', await phase(admin, overhead, users, 'evalsha', () => spread(users, async (i, loop) => {
    keys[i] = (await p.repositories[loop]!.createToken(userAt(i), { device: DEVICE })).token.key;
  })));
  record('verify', await phase(admin, overhead, users * VERIFY_PASSES, 'hget', () => spread(users * VERIFY_PASSES, async (i, loop) => {
    if ((await p.repositories[loop]!.authenticate(keys[i % users]!)) === null) throw new Error('a verification failed');
  })));
  const ids = keys.map((key) => tokenMath.tokenId(key, null));
  record('touch', await phase(admin, overhead, users, 'evalsha', () => spread(users, async (i, loop) => {
    if (Number(await touchScript(p.clients[loop]!, hashKeyOf(userAt(i).id), ids[i]!)) === 0) throw new Error('a touch wrote nothing');
  })));
  record('list', await phase(admin, overhead, users, 'evalsha', () => spread(users, async (i, loop) => {
    if ((await p.repositories[loop]!.listTokens(userAt(i))).length !== size) throw new Error(`a list did not give ${size} tokens`);
  })));
  record('revoke', await phase(admin, overhead, users, 'evalsha', () => spread(users, async (i, loop) => {
    if (!(await p.repositories[loop]!.expireToken(keys[i]))) throw new Error('a revocation removed nothing');
  })));
  await fillTo(p, size, users, 1);
  record('expireAll', await phase(admin, overhead, users, 'evalsha', () => spread(users, async (i, loop) => {
    if ((await p.repositories[loop]!.expireAllTokens(userAt(i))) !== size) throw new Error(`expire-all did not remove ${size} tokens`);
  })));
}

function summarise(s: { cpuUs: number[]; execUs: number[]; inBytes: number[]; outBytes: number[] }): OpCost {
  return { cpuUs: median(s.cpuUs), execUs: median(s.execUs), inBytes: median(s.inBytes), outBytes: median(s.outBytes), cpuUsRounds: s.cpuUs };
}

/** Measures every operation at every size, and PING (the cache fence's command). */
export async function measureOperations(settings: OpsSettings, log: (line: string) => void): Promise<OpsResult> {
  const server = await startRedisServer();
  const admin = await plainClient(server.url);
  const p = await pool(server.url);
  try {
    // Load the scripts and warm every path on a user of its own.
    const warm = { id: syntheticUserId('w', 0) };
    const { token } = await p.repositories[0]!.createToken(warm, { device: DEVICE });
    await p.repositories[0]!.authenticate(token.key);
    await touchScript(p.clients[0]!, hashKeyOf(warm.id), token.id);
    await p.repositories[0]!.listTokens(warm);
    await p.repositories[0]!.expireToken(token.key);
    await p.repositories[0]!.expireAllTokens(warm);
    const { token: probe } = await p.repositories[0]!.createToken(warm, { device: DEVICE });
    const verifyValueBytes = Buffer.byteLength((await admin.hGet(hashKeyOf(warm.id), probe.id)) ?? '');
    const overhead = await meterOverhead(admin);
    const samples = emptySamples();
    const pings: ReturnType<typeof perOperation>[] = [];
    const batched: number[] = [];
    for (let r = 1; r <= settings.rounds; r++) {
      for (const size of SIZES) await round(admin, p, overhead, size, settings.users[size], samples);
      const count = settings.users[1] * VERIFY_PASSES;
      pings.push(await phase(admin, overhead, count, 'ping', () => spread(count, (_i, loop) => p.clients[loop]!.ping())));
      // For contrast: the same verifications, 64 in flight on one connection.
      const { token: one } = await p.repositories[0]!.createToken(warm, { device: DEVICE });
      batched.push((await phase(admin, overhead, count, 'hget', async () => {
        let next = 0;
        await Promise.all(Array.from({ length: 64 }, async () => {
          while (next++ < count) await p.repositories[0]!.authenticate(one.key);
        }));
      })).cpuUs);
      log(`  round ${r}/${settings.rounds}: ${SIZES.map((size) => `${size}: verify ${samples.verify[size].cpuUs.at(-1)!.toFixed(1)} µs, create ${samples.create[size].cpuUs.at(-1)!.toFixed(1)} µs`).join('; ')}`);
    }
    const costs = {} as Record<Operation, Record<Size, OpCost>>;
    for (const op of OPERATIONS) {
      costs[op] = {} as Record<Size, OpCost>;
      for (const size of SIZES) costs[op][size] = summarise(samples[op][size]);
    }
    const ping = summarise({ cpuUs: pings.map((x) => x.cpuUs), execUs: pings.map((x) => x.execUs), inBytes: pings.map((x) => x.inBytes), outBytes: pings.map((x) => x.outBytes) });
    const replication = await measureReplication(settings, log);
    return { costs, ping, verifyBatchedCpuUs: batched, verifyValueBytes, replication, overhead };
  } finally {
    await p.close();
    await admin.close().catch(() => {});
    await server.stop();
  }
}

async function caughtUp(master: RedisClientType, replica: RedisClientType): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const m = (await readServer(master)).replOffset;
    const info: unknown = await replica.sendCommand(['INFO', 'replication']);
    const offset = /slave_repl_offset:(\d+)/.exec(String(info))?.[1];
    if (offset !== undefined && Number(offset) >= m) return;
    await sleep(10);
  }
  throw new Error('the replica did not catch up within 5 s');
}

/** Replication stream bytes and replica CPU per write, with one replica attached. */
async function measureReplication(settings: OpsSettings, log: (line: string) => void): Promise<OpsResult['replication']> {
  let master: RedisServer | undefined;
  let replica: RedisServer | undefined;
  let p: Pool | undefined;
  const admins: RedisClientType[] = [];
  try {
    master = await startRedisServer();
    replica = await startRedisServer(['--replicaof', '127.0.0.1', String(master.port)]);
    const admin = await plainClient(master.url);
    const replicaAdmin = await plainClient(replica.url);
    admins.push(admin, replicaAdmin);
    for (let i = 0; ; i++) {
      const info: unknown = await replicaAdmin.sendCommand(['INFO', 'replication']);
      if (String(info).includes('master_link_status:up')) break;
      if (i > 500) throw new Error('the replica did not connect within 10 s');
      await sleep(20);
    }
    p = await pool(master.url);
    const out = {} as OpsResult['replication'];
    for (const op of WRITE_OPERATIONS) out[op] = {} as Record<Size, { replBytes: number; replicaCpuUs: number }>;
    const users = settings.replicationUsers;
    const replicaIdle = await meterOverhead(replicaAdmin, 500);
    for (const size of SIZES) {
      const pp = p;
      const userAt = (i: number): { id: string } => ({ id: syntheticUserId(sizeLetter(size), i) });
      const measure = async (op: WriteOperation, run: () => Promise<void>): Promise<void> => {
        await caughtUp(admin, replicaAdmin);
        const m0 = await readServer(admin);
        const r0 = await readServer(replicaAdmin);
        await run();
        await caughtUp(admin, replicaAdmin);
        const r1 = await readServer(replicaAdmin);
        const m1 = await readServer(admin);
        const rd = delta(r0, r1);
        out[op][size] = {
          replBytes: delta(m0, m1).replOffset / users,
          replicaCpuUs: Math.max(0, rd.cpuUs - replicaIdle.cpuUs - replicaIdle.idleCpuUsPerMs * rd.ms) / users,
        };
      };
      await fillTo(pp, size, users, size - 1);
      const keys: string[] = new Array<string>(users).fill('');
      await measure('create', () => spread(users, async (i, loop) => {
        keys[i] = (await pp.repositories[loop]!.createToken(userAt(i), { device: DEVICE })).token.key;
      }));
      await measure('touch', () => spread(users, async (i, loop) => {
        await touchScript(pp.clients[loop]!, hashKeyOf(userAt(i).id), tokenMath.tokenId(keys[i]!, null));
      }));
      await measure('revoke', () => spread(users, async (i, loop) => {
        await pp.repositories[loop]!.expireToken(keys[i]);
      }));
      await fillTo(pp, size, users, 1);
      await measure('expireAll', () => spread(users, async (i, loop) => {
        await pp.repositories[loop]!.expireAllTokens(userAt(i));
      }));
      log(`  replication at ${size}: ${WRITE_OPERATIONS.map((op) => `${op} ${out[op][size].replBytes.toFixed(0)} B`).join(', ')}`);
    }
    return out;
  } finally {
    await p?.close();
    for (const a of admins) await a.close().catch(() => {});
    await replica?.stop();
    await master?.stop();
  }
}
