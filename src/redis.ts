import { MultiTokenStoreError } from './errors.js';
import type { LuaScript } from './scripts.js';

/** The arguments of EVAL and EVALSHA, as node-redis takes them. */
export interface RedisScriptOptions {
  keys: string[];
  arguments: string[];
}

/**
 * The part of a node-redis client the package uses. A standalone client, a cluster, a
 * sentinel client or a pool from node-redis 4.6, 5 or 6 all fit, whatever their RESP version
 * or type mapping.
 */
export interface RedisClientLike {
  /** HGETALL: every field of a hash, in whatever shape the client returns. */
  hGetAll(key: string): Promise<unknown>;
  /** EVALSHA: runs a loaded script by its SHA1. */
  evalSha(sha1: string, options: RedisScriptOptions): Promise<unknown>;
  /** EVAL: runs a script from its source, after a NOSCRIPT. */
  eval(script: string, options: RedisScriptOptions): Promise<unknown>;
}

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

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

/**
 * Reads an HGETALL reply in any shape node-redis gives it: a plain object (RESP2, RESP3), a
 * Map, or a flat or paired array (type mappings), with string or Buffer values.
 */
export function normaliseHash(reply: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const proto: unknown = reply !== null && typeof reply === 'object' ? Object.getPrototypeOf(reply) : undefined;
  if (proto === Object.prototype || proto === null) {
    // The common shape (RESP2 and RESP3 without a type mapping): a plain object of strings.
    const record = reply as Record<string, unknown>;
    for (const field in record) {
      const value = record[field];
      if (typeof value !== 'string') return normaliseHashSlow(reply, out);
      out[field] = value;
    }
    return out;
  }
  return normaliseHashSlow(reply, out);
}

function normaliseHashSlow(reply: unknown, out: Record<string, string>): Record<string, string> {
  const put = (field: unknown, value: unknown): void => {
    const f = text(field);
    const v = text(value);
    if (f === undefined || v === undefined) throw badReply('HGETALL');
    out[f] = v;
  };
  if (reply instanceof Map) {
    for (const [field, value] of reply) put(field, value);
  } else if (Array.isArray(reply)) {
    if (reply.every((item) => Array.isArray(item) && item.length === 2)) {
      for (const [field, value] of reply as [unknown, unknown][]) put(field, value);
    } else {
      if (reply.length % 2 !== 0) throw badReply('HGETALL');
      for (let i = 0; i < reply.length; i += 2) put(reply[i], reply[i + 1]);
    }
  } else if (reply !== null && typeof reply === 'object' && !Buffer.isBuffer(reply)) {
    for (const [field, value] of Object.entries(reply)) put(field, value);
  } else {
    throw badReply('HGETALL');
  }
  return out;
}

/** Reads an integer reply (number, bigint or numeric string). */
export function normaliseInteger(reply: unknown, command: string): number {
  const value = typeof reply === 'number' ? reply : Number(text(reply));
  if (!Number.isSafeInteger(value)) throw badReply(command);
  return value;
}

/** Reads an array reply whose items are strings. */
export function normaliseStrings(reply: unknown, command: string): string[] {
  if (!Array.isArray(reply)) throw badReply(command);
  return reply.map((item: unknown) => {
    const value = text(item);
    if (value === undefined) throw badReply(command);
    return value;
  });
}

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Runs a script with EVALSHA, and with EVAL only when the server answers NOSCRIPT (a restart,
 * a failover, SCRIPT FLUSH). Every other error is final.
 */
export async function runScript(
  client: RedisClientLike,
  deadline: CallDeadline,
  script: LuaScript,
  options: RedisScriptOptions,
): Promise<unknown> {
  // The EVAL fallback shares the deadline of the EVALSHA it replaces: one timeout per call.
  const due = deadline.start();
  try {
    return await deadline.guard(() => client.evalSha(script.sha1, options), `EVALSHA ${script.name}`, due);
  } catch (err) {
    if (!(err instanceof MultiTokenStoreError) || !isNoScript(err.cause)) throw err;
  }
  return deadline.guard(() => client.eval(script.source, options), `EVAL ${script.name}`, due);
}
