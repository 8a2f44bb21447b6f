import { MultiTokenStoreError } from './errors.js';
import type { StoreClient } from './client.js';
import type { LuaScript } from './scripts.js';

/**
 * Rejects calls that outlive their deadline, with one coarse timer shared by every call in
 * flight. A timer per call would cost far more than the call itself under load; this one costs
 * a Set insert and delete. A call may run over its deadline by at most one tick.
 */
export class CallDeadline {
  // Monotonic times, so a step of the wall clock neither fires nor holds back a deadline.
  private readonly pending = new Set<{ due: number; reject: (err: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly ms: number;
  private readonly tick: number;

  constructor(ms: number) {
    this.ms = ms;
    this.tick = Math.max(5, Math.min(100, Math.ceil(ms / 8)));
  }

  /** The deadline of a call that starts now, on the monotonic clock. */
  start(): number {
    return performance.now() + this.ms;
  }

  /**
   * Settles as `call` does, or rejects with `ERR_MULTITOKEN_TIMEOUT` once `due` (by default a
   * full `timeout` from now) passes.
   */
  guard<T>(call: () => Promise<T>, command: string, due: number = this.start()): Promise<T> {
    let running: Promise<T>;
    try {
      running = call();
    } catch (err) {
      return Promise.reject(storeError(err, command));
    }
    return new Promise<T>((resolve, reject) => {
      const entry = { due, reject };
      this.pending.add(entry);
      if (this.timer === undefined) {
        // Not unref'd: a call in flight is work the process should wait for, until it settles
        // or its deadline passes. The timer stops as soon as nothing is in flight.
        this.timer = setInterval(() => this.expire(), this.tick);
      }
      running.then(
        (value) => {
          this.pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.pending.delete(entry);
          reject(storeError(err, command));
        },
      );
    });
  }

  private expire(): void {
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.due <= now) {
        this.pending.delete(entry);
        entry.reject(new MultiTokenStoreError('ERR_MULTITOKEN_TIMEOUT', `Redis did not answer within ${this.ms} ms`));
      }
    }
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function storeError(err: unknown, command: string): MultiTokenStoreError {
  if (err instanceof MultiTokenStoreError) return err;
  // The message names the command only: keys and arguments never reach an error message.
  return new MultiTokenStoreError('ERR_MULTITOKEN_STORE', `Redis ${command} failed`, { cause: err });
}

/** Raised when a reply does not have the shape a command promises. */
export function badReply(command: string): MultiTokenStoreError {
  return new MultiTokenStoreError('ERR_MULTITOKEN_REPLY', `Unexpected reply to Redis ${command}`);
}

/** Reads a bulk string reply (string or Buffer); null stays null. */
export function normaliseString(reply: unknown, command: string): string | null {
  if (typeof reply === 'string' || reply === null) return reply;
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  throw badReply(command);
}

/** Reads an integer reply (number, bigint or numeric string). */
export function normaliseInteger(reply: unknown, command: string): number {
  const value = typeof reply === 'number' ? reply : Number(normaliseString(typeof reply === 'bigint' ? String(reply) : reply, command));
  if (!Number.isSafeInteger(value)) throw badReply(command);
  return value;
}

/** Reads an array reply whose items are strings. */
export function normaliseStrings(reply: unknown, command: string): string[] {
  if (!Array.isArray(reply)) throw badReply(command);
  return reply.map((item: unknown) => {
    const value = normaliseString(item, command);
    if (value === null) throw badReply(command);
    return value;
  });
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Runs a script with EVALSHA, and with EVAL only when the server answers NOSCRIPT (a restart,
 * a failover, SCRIPT FLUSH). Every other error is final. Both share the deadline `due`.
 */
export async function runScript(
  client: StoreClient,
  deadline: CallDeadline,
  script: LuaScript,
  keys: string[],
  args: string[],
  due: number = deadline.start(),
): Promise<unknown> {
  try {
    return await deadline.guard(() => client.evalSha(script.sha1, keys, args), `EVALSHA ${script.name}`, due);
  } catch (err) {
    if (!(err instanceof MultiTokenStoreError) || !isNoScript(err.cause)) throw err;
  }
  return deadline.guard(() => client.eval(script.source, keys, args), `EVAL ${script.name}`, due);
}

/**
 * Runs a write script, then waits on the same connection until `replicas` replicas hold it,
 * within the deadline `due`. Rejects with `ERR_MULTITOKEN_REPLICAS` when fewer acknowledge:
 * the master has applied the write, but a failover now could undo it.
 */
export async function runReplicatedScript(
  client: StoreClient,
  deadline: CallDeadline,
  script: LuaScript,
  keys: string[],
  args: string[],
  replicas: number,
  due: number = deadline.start(),
): Promise<unknown> {
  const [reply, acked] = await deadline.guard(
    () =>
      client.pinned(keys[0] ?? '', async (connection) => {
        let written: unknown;
        try {
          written = await connection.evalSha(script.sha1, keys, args);
        } catch (err) {
          if (!isNoScript(err)) throw err;
          written = await connection.eval(script.source, keys, args);
        }
        // WAIT 0 would block forever. The wait ends before the deadline, with room for the
        // server to notice (it checks blocked clients between event-loop turns, up to 100 ms
        // apart when idle; measured 100 ms late here), so a short count is reported as such
        // rather than as a timeout.
        const left = due - performance.now();
        const waitMs = Math.max(1, Math.floor(left > 400 ? left - 200 : left / 2));
        return [written, await connection.wait(replicas, waitMs)] as const;
      }),
    `EVALSHA ${script.name} + WAIT`,
    due,
  );
  const count = normaliseInteger(acked, 'WAIT');
  if (count < replicas) {
    throw new MultiTokenStoreError('ERR_MULTITOKEN_REPLICAS', `Only ${count} of ${replicas} replicas acknowledged the write in time`);
  }
  return reply;
}
