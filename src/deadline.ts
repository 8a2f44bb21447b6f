// The deadline of one call of the library, and the one timer that enforces every deadline in
// flight. node-redis timeouts stop applying once a command is on the wire; this one does not.
import { MultiTokenStoreError } from './errors.js';

/**
 * Rejects calls that outlive their deadline, with one coarse timer shared by every call in
 * flight. A timer per call would cost far more than the call itself under load; this one costs
 * a Set insert and delete. A call may run over its deadline by at most one tick.
 */
export class CallDeadline {
  // Monotonic times, so a step of the wall clock neither fires nor holds back a deadline.
  private readonly pending = new Set<{ due: number; reject: (err: Error) => void }>();
  private timer: NodeJS.Timeout | undefined;
  /** The deadline of one call, in ms (the `timeout` option). */
  readonly ms: number;
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
