// How each operation's cost grows with the number of tokens (devices) one user holds. Every
// size has a user of its own, all alive at once, so rounds can interleave across sizes.
import type { RedisClientType } from 'redis';
import { DEVICE, KEY_PREFIX, bearerRequest, oursRepository, oursStrategy, passportCall } from './contenders.js';
import { forEachConcurrently, median, runLoad, timeEach, type LoadResult } from './measure.js';
import { keys as keyMath, record as recordMath, token as tokenMath } from './package.js';

const FILL_CONCURRENCY = 64;
const VERIFY_PASSES = 10;
const FILL_BATCH = 1000;
const TTL_MS = 14 * 86400 * 1000;

export interface GrowthOptions {
  sizes: readonly number[];
  rounds: number;
  /** Timed calls per round of createToken (with and without a cap). */
  createCalls: number;
  /** Time spent on verification per size per round, in ms, split into short interleaved passes. */
  verifyMs: number;
  log: (line: string) => void;
}

/** Median µs per call of each operation at one size; verification also as ops/s at concurrency 1. */
export interface GrowthRow {
  tokens: number;
  create: number;
  createCapped: number;
  list: number;
  expireAll: number;
  verify: number;
  verifyOpsPerSec: number;
  /** Verification ops/s of each pass (passes of all sizes interleave), for per-pass ratios against n = 1. */
  verifyPasses: number[];
}

type Samples = Record<'create' | 'createCapped' | 'list' | 'expireAll' | 'verify' | 'verifyOpsPerSec' | 'verifyPasses', number[]>;

const userAt = (size: number): { id: string } => ({ id: `growth-${size}` });

/**
 * Gives the user of `size` `count` tokens, written straight into its hash as the create script
 * writes them (the same record, the same hash expiry). createToken itself sweeps the user's
 * hash, so filling 10,000 tokens through it would take minutes; it is timed separately below.
 */
async function fill(client: RedisClientType, size: number, count: number): Promise<void> {
  const { id: userId } = userAt(size);
  const hashKey = keyMath.tagKey(KEY_PREFIX, tokenMath.routingTag(userId));
  const now = Date.now();
  const value = [now.toString(36), (now + TTL_MS).toString(36), '', userId, recordMath.recordTail(['*'], DEVICE, {})].join(recordMath.SEPARATOR);
  for (let done = 0; done < count; done += FILL_BATCH) {
    const fields: Record<string, string> = {};
    for (let i = done; i < Math.min(count, done + FILL_BATCH); i++) {
      fields[tokenMath.tokenId(tokenMath.generateToken('rmt', tokenMath.routingTag(userId)), null)] = value;
    }
    await client.hSet(hashKey, fields);
  }
  await client.pExpireAt(hashKey, now + TTL_MS);
}

/** listTokens is O(n): fewer calls where each one reads thousands of records. */
function listCalls(size: number): number {
  return Math.max(3, Math.min(50, Math.floor(20000 / size)));
}

/** Measures createToken, createToken at a cap, listTokens, expireAllTokens and verification per size. */
export async function benchGrowth(client: RedisClientType, options: GrowthOptions): Promise<GrowthRow[]> {
  const { sizes, rounds, createCalls, verifyMs, log } = options;
  // No cap (the default is 100): the user of each size holds exactly that many.
  const repository = oursRepository(client, { maxTokensPerUser: null });
  const strategy = oursStrategy(client);
  const samples = new Map<number, Samples>(
    sizes.map((size) => [size, { create: [], createCapped: [], list: [], expireAll: [], verify: [], verifyOpsPerSec: [], verifyPasses: [] }]),
  );
  const capped = new Map(sizes.map((size) => [size, oursRepository(client, { maxTokensPerUser: size })]));

  // Warm every path up (JIT, and EVALSHA's first NOSCRIPT) on a user of its own.
  const warmup = { id: 'growth-warmup' };
  await forEachConcurrently(20, FILL_CONCURRENCY, () => repository.createToken(warmup, { device: DEVICE }));
  await oursRepository(client, { maxTokensPerUser: 10 }).createToken(warmup, { device: DEVICE });
  await repository.listTokens(warmup);
  const { token: warm } = await repository.createToken(warmup, { device: DEVICE });
  await runLoad(async () => (await passportCall(strategy, bearerRequest(warm.key))()) === 'success', 1, 200);
  await repository.expireAllTokens(warmup);

  for (let round = 1; round <= rounds; round++) {
    // Fill every user to its size; the previous round's expireAll left them empty.
    for (const size of sizes) await fill(client, size, size);
    const verified = new Map<number, string>();
    for (const size of sizes) {
      const s = samples.get(size)!;
      const user = userAt(size);
      const cappedRepository = capped.get(size)!;
      // Uncapped: the user briefly holds size + 1 tokens; the new one is revoked, untimed.
      let last: string | undefined;
      s.create.push(
        median(
          await timeEach(
            createCalls,
            async () => (last = (await repository.createToken(user, { device: DEVICE })).token.key),
            () => repository.expireToken(last),
          ),
        ),
      );
      // Capped at `size`: each login evicts the oldest, so the count stays put.
      s.createCapped.push(median(await timeEach(createCalls, () => cappedRepository.createToken(user, { device: DEVICE }))));
      // The token verified is one more capped login: the newest, so no eviction above took it.
      const { token } = await cappedRepository.createToken(user, { device: DEVICE });
      verified.set(size, token.key);
      s.list.push(median(await timeEach(listCalls(size), () => repository.listTokens(user))));
    }
    // Verification, interleaved across sizes in short passes: it is the figure that must stay
    // flat, so it gets the finest interleaving.
    const passes = new Map<number, LoadResult[]>(sizes.map((size) => [size, []]));
    for (let pass = 0; pass < VERIFY_PASSES; pass++) {
      for (const size of sizes) {
        const verify = passportCall(strategy, bearerRequest(verified.get(size)!));
        passes.get(size)!.push(await runLoad(async () => (await verify()) === 'success', 1, verifyMs / VERIFY_PASSES));
      }
    }
    for (const size of sizes) {
      const s = samples.get(size)!;
      s.verify.push(median(passes.get(size)!.map((run) => run.p50)));
      s.verifyOpsPerSec.push(median(passes.get(size)!.map((run) => run.opsPerSec)));
      s.verifyPasses.push(...passes.get(size)!.map((run) => run.opsPerSec));
    }
    for (const size of sizes) {
      const t0 = process.hrtime.bigint();
      const removed = await repository.expireAllTokens(userAt(size));
      samples.get(size)!.expireAll.push(Number(process.hrtime.bigint() - t0) / 1e3);
      if (removed !== size) throw new Error(`expireAllTokens removed ${removed} of ${size} tokens`);
    }
    log(`  round ${round}/${rounds}: ${sizes.map((size) => `${size}: verify ${Math.round(samples.get(size)!.verifyOpsPerSec.at(-1)!)}/s`).join(', ')}`);
  }
  return sizes.map((size) => {
    const s = samples.get(size)!;
    return {
      tokens: size,
      create: median(s.create),
      createCapped: median(s.createCapped),
      list: median(s.list),
      expireAll: median(s.expireAll),
      verify: median(s.verify),
      verifyOpsPerSec: median(s.verifyOpsPerSec),
      verifyPasses: s.verifyPasses,
    };
  });
}
