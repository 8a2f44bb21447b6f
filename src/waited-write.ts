import type { StoreClient } from './client.js';
import type { CallDeadline } from './deadline.js';
import { MultiTokenStoreError } from './errors.js';
import { badReply, normaliseInteger, normaliseString } from './replies.js';
import { runScript } from './run-script.js';
import { CONFIRM_TOKEN, CREATE_TOKEN, EXPIRE_TOKEN, ROTATE_TOKEN, UNROTATE_TOKEN, type LuaScript } from './scripts.js';
import type { PinnedConnection } from './writer.js';

// Writes that wait: with `replicas`, until that many replicas hold the write (WAIT); with
// `durable`, until it is in the AOF on disk, here and on `replicas` replicas (WAITAOF). The
// write and its wait run on the store's own write connection, which counts that connection's
// writes, within the call's deadline.
//
// "Retrying is safe" means: a call that rejects while waiting may be repeated as it is.
// - A revocation that rejected has been applied on the master and stands; a retry finds the
//   token gone (false, or 0) once it is held where asked.
// - A creation that rejected handed out nothing and evicted nothing. It first stores its token
//   with a provisional lifetime (the deadline plus PROVISIONAL_MS) and no eviction; only once
//   the wait confirms does a second script give it its lifetime and evict past the cap. A
//   failed wait removes it; if even that removal is lost (the master died), the token, which
//   nobody holds, dies within seconds and is the first the cap would evict.
// - A rotation that rejected is undone (UNROTATE_TOKEN): its successor goes, and the old token
//   gets back its record, so the rotation may be retried.

/** What a write waits for. */
export interface WriteWaits {
  /** Replicas that must hold the write (WAIT), or have it on disk too when `durable`. */
  replicas: number;
  /** Whether the write must be in the AOF on disk (WAITAOF 1 replicas). */
  durable: boolean;
}

/** What creations and revocations wait for under these options, or null for nothing. */
export function waitsOf(options: { replicas: number; durable: boolean }): WriteWaits | null {
  return options.replicas > 0 || options.durable ? { replicas: options.replicas, durable: options.durable } : null;
}

/** How much longer than the deadline a provisional token lives, should its confirmation never come. */
const PROVISIONAL_MS = 10_000;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

async function scriptOn(connection: PinnedConnection, script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
  try {
    return await connection.evalSha(script.sha1, keys, args);
  } catch (err) {
    if (!isNoScript(err)) throw err;
    return connection.eval(script.source, keys, args);
  }
}

function unsupported(what: string, cause: unknown): MultiTokenStoreError {
  return new MultiTokenStoreError(
    'ERR_MULTITOKEN_UNSUPPORTED',
    `durable: true needs WAITAOF (Redis 7.2 or later, or Valkey) with appendonly yes, and ${what}. ` +
      'The write was applied, but is not known to be on disk. Alternatives: run the server with appendfsync always, ' +
      'or rely on replicas: N instead of durable',
    { cause },
  );
}

/**
 * Waits on `connection` for the writes made on it: WAIT, or WAITAOF when durable. The wait ends
 * before the deadline, with room for the server to notice (it checks blocked clients between
 * event-loop turns, up to 100 ms apart when idle; measured 100 ms late here), so a short count
 * is reported as such rather than as a timeout. Rejects when fewer acknowledged.
 */
async function waitOn(connection: PinnedConnection, waits: WriteWaits, due: number): Promise<void> {
  const left = due - performance.now();
  // WAIT 0 would block forever.
  const ms = String(Math.max(1, Math.floor(left > 400 ? left - 200 : left / 2)));
  if (!waits.durable) {
    const count = normaliseInteger(await connection.command(['WAIT', String(waits.replicas), ms]), 'WAIT');
    if (count < waits.replicas) {
      throw new MultiTokenStoreError('ERR_MULTITOKEN_REPLICAS', `Only ${count} of ${waits.replicas} replicas acknowledged the write in time`);
    }
    return;
  }
  let reply: unknown;
  try {
    reply = await connection.command(['WAITAOF', '1', String(waits.replicas), ms]);
  } catch (err) {
    const message = err instanceof Error ? err.message : '';
    if (/unknown command/i.test(message)) throw unsupported('this server has no WAITAOF', err);
    if (/appendonly/i.test(message)) throw unsupported('this server runs with appendonly no', err);
    throw err;
  }
  const [local, replicas] = Array.isArray(reply) ? reply.map((n) => normaliseInteger(n, 'WAITAOF')) : [];
  if (local === undefined || replicas === undefined) throw new MultiTokenStoreError('ERR_MULTITOKEN_REPLY', 'Redis WAITAOF answered something unreadable');
  if (local < 1 || replicas < waits.replicas) {
    throw new MultiTokenStoreError(
      'ERR_MULTITOKEN_DURABILITY',
      `The write was not on disk in time: fsynced here ${local === 1 ? 'yes' : 'no'}, on ${replicas} of ${waits.replicas} replicas`,
    );
  }
}

/**
 * What undoes a write whose wait failed: the arguments of UNROTATE_TOKEN for a rotation that
 * issued a successor; null for anything else (a revocation stands, and retrying it is safe).
 */
function undoOf(script: LuaScript, args: string[], reply: unknown): string[] | null {
  if (script !== ROTATE_TOKEN || !Array.isArray(reply) || reply.length !== 4) return null;
  if (normaliseInteger(reply[1], 'EVALSHA rotate') !== 1) return null;
  const oldId = normaliseString(reply[2], 'EVALSHA rotate');
  const oldRecord = normaliseString(reply[3], 'EVALSHA rotate');
  const newId = args[2];
  return oldId === null || oldRecord === null || newId === undefined ? null : [oldId, newId, oldRecord];
}

/**
 * Runs a revocation or rotation script, then waits (WAIT or WAITAOF) on the same connection,
 * within the deadline `due`. A rejection leaves a revocation applied, and undoes a rotation:
 * retrying is safe.
 */
export function runWaitedScript(
  store: StoreClient,
  deadline: CallDeadline,
  script: LuaScript,
  keys: string[],
  args: string[],
  waits: WriteWaits,
  due: number = deadline.start(),
): Promise<unknown> {
  const task = async (connection: PinnedConnection): Promise<unknown> => {
    const reply = await scriptOn(connection, script, keys, args);
    const undo = undoOf(script, args, reply);
    try {
      // Queued behind another call's wait until past its deadline, the caller has its answer
      // already: a revocation is applied, and its wait would only hold up the calls behind it.
      if (performance.now() < due) await waitOn(connection, waits, due);
      else if (undo !== null) throw new MultiTokenStoreError('ERR_MULTITOKEN_TIMEOUT', 'The call was abandoned at its deadline');
    } catch (err) {
      // A rotation whose successor never reached the caller is undone on the same connection.
      if (undo !== null) await scriptOn(connection, UNROTATE_TOKEN, keys, undo).catch(() => {});
      throw err;
    }
    return reply;
  };
  return deadline.guard(() => store.pinned(keys[0] ?? '', task), `EVALSHA ${script.name} + ${waits.durable ? 'WAITAOF' : 'WAIT'}`, due);
}

/** The arguments of a creation that waits: those of CREATE_TOKEN, split where the script takes them. */
export interface WaitedCreate {
  id: string;
  userId: string;
  /** The token's lifetime in ms, or null for none. */
  ttlMs: number | null;
  idleMs: number;
  cap: number;
  recordTail: string;
  /** The fingerprints of the listed peppers: the scripts drop the tokens of any other. */
  live: string;
}

/**
 * Creates a token so that a failed wait leaves nothing behind: provisional create, wait,
 * confirm (lifetime and eviction). Resolves with the create reply and the ids the confirmation
 * evicted. Rejects, having removed the provisional token, when the wait fails.
 */
export async function runWaitedCreate(
  store: StoreClient,
  deadline: CallDeadline,
  key: string,
  create: WaitedCreate,
  waits: WriteWaits,
): Promise<{ created: unknown; confirmed: unknown }> {
  const due = deadline.start();
  const provisional = deadline.ms + PROVISIONAL_MS;
  const ttl = create.ttlMs === null ? provisional : Math.min(create.ttlMs, provisional);
  const lifetime = create.ttlMs === null ? '' : String(create.ttlMs);
  // Set once the caller has had its answer (a timeout): a confirmation after that is undone.
  let abandoned = false;
  const task = async (connection: PinnedConnection): Promise<{ created: unknown; confirmed: unknown }> => {
    // Queued past its deadline behind another call's wait: the caller has its answer; write nothing.
    if (abandoned) throw new MultiTokenStoreError('ERR_MULTITOKEN_TIMEOUT', 'The call was abandoned at its deadline');
    const created = await scriptOn(connection, CREATE_TOKEN, [key], [create.id, create.userId, String(ttl), String(create.idleMs), '0', create.recordTail, create.live]);
    // A hash at its bound stored nothing: nothing to wait for or confirm.
    if (Array.isArray(created) && created.length === 2 && normaliseInteger(created[1], 'EVALSHA create') === -1) return { created, confirmed: null };
    // Sent on the same connection, so it runs after whatever this call sent before it.
    const undo = (): Promise<unknown> => scriptOn(connection, EXPIRE_TOKEN, [key], [create.userId, String(create.idleMs), create.live, create.id]).catch(() => {});
    let confirmed: unknown;
    try {
      await waitOn(connection, waits, due);
      confirmed = await scriptOn(connection, CONFIRM_TOKEN, [key], [create.id, create.userId, lifetime, String(create.idleMs), String(create.cap), create.live]);
    } catch (err) {
      // The wait ends before the deadline, which leaves room for the undo's round trip.
      await undo();
      throw err;
    }
    if (abandoned) void undo();
    return { created, confirmed };
  };
  try {
    return await deadline.guard(() => store.pinned(key, task), `EVALSHA create + ${waits.durable ? 'WAITAOF' : 'WAIT'}`, due);
  } catch (err) {
    abandoned = true;
    throw err;
  }
}

/** What a creation stored: CREATE_TOKEN's reply, and the ids of the user's tokens it evicted. */
export interface CreatedToken {
  reply: unknown;
  evicted: unknown[];
}

/**
 * Creates a token: one CREATE_TOKEN script when nothing is waited for, else provisional,
 * waited for and confirmed (runWaitedCreate).
 */
export async function runCreate(store: StoreClient, deadline: CallDeadline, key: string, create: WaitedCreate, waits: WriteWaits | null): Promise<CreatedToken> {
  if (waits === null) {
    const args = [create.id, create.userId, create.ttlMs === null ? '' : String(create.ttlMs), String(create.idleMs), String(create.cap), create.recordTail, create.live];
    const reply = await runScript(store, deadline, CREATE_TOKEN, [key], args);
    return { reply, evicted: Array.isArray(reply) ? reply.slice(2) : [] };
  }
  const { created, confirmed } = await runWaitedCreate(store, deadline, key, create, waits);
  if (confirmed === null) return { reply: created, evicted: [] };
  if (!Array.isArray(confirmed) || confirmed.length < 1) throw badReply('EVALSHA confirm');
  return { reply: created, evicted: confirmed.slice(1) };
}
