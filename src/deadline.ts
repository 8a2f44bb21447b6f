// The deadline of one call of the library, and the one timer that enforces every deadline in
// flight. node-redis timeouts stop applying once a command is on the wire; this one does not.
import { MultiTokenStoreError } from './errors.js';

/**
 * A call in flight under a deadline. {@link CallDeadline.watch} keeps it until
 * {@link CallDeadline.settle}; a subclass says what a timeout does to it.
 */
export abstract class Watch {
  /** The deadline, on the monotonic clock (performance.now()). */
  readonly due: number;
  /** Settled or expired; set by the deadline only. */
  done = false;
  /** Watched out of order (an earlier deadline than the last one queued): kept in a set. */
  late = false;

  constructor(due: number) {
    this.due = due;
  }

  /** Called once, when the deadline passes before the call settles. */
  abstract expire(err: MultiTokenStoreError): void;
}

// The watch of a guarded promise: a timeout rejects it.
class Guarded extends Watch {
  private readonly reject: (err: Error) => void;

  constructor(due: number, reject: (err: Error) => void) {
    super(due);
    this.reject = reject;
  }

  expire(err: MultiTokenStoreError): void {
    this.reject(err);
  }
}

/**
 * Rejects calls that outlive their deadline, with one coarse timer shared by every call in
 * flight. A timer per call would cost far more than the call itself under load; this one costs
 * an array push and a flag. A call may run over its deadline by at most one tick.
 *
 * Almost every deadline is `now + timeout` taken as the call starts, so deadlines arrive in
 * order and a FIFO serves them: the timer pops expired entries from its head, and a settled
 * entry at the head is dropped at once, so the queue holds about the calls in flight. The rare
 * call that shares an earlier deadline (a later step of the same operation) goes into a set.
 */
export class CallDeadline {
  // Monotonic times, so a step of the wall clock neither fires nor holds back a deadline.
  // queue[head, tail) are the watches in due order; the slots outside are empty.
  private readonly queue: (Watch | undefined)[] = [];
  private head = 0;
  private tail = 0;
  private lastDue = -Infinity;
  private readonly late = new Set<Watch>();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The deadline of one call, in ms (the `timeout` option). */
  readonly ms: number;
  private readonly tick: number;
  private readonly server: CallServer | undefined;

  /** `server`, when given, names the Redis server in every error, with its last known trouble. */
  constructor(ms: number, server?: CallServer) {
    this.ms = ms;
    this.tick = Math.max(5, Math.min(100, Math.ceil(ms / 8)));
    this.server = server;
  }

  /** The deadline of a call that starts now, on the monotonic clock. */
  start(): number {
    return performance.now() + this.ms;
  }

  /**
   * Watches a call until {@link settle} is called with it; if its deadline passes first, its
   * `expire` gets `ERR_MULTITOKEN_TIMEOUT` (once) and `settle` answers false.
   */
  watch<W extends Watch>(watch: W): W {
    if (watch.due < this.lastDue) {
      watch.late = true;
      this.late.add(watch);
    } else {
      this.queue[this.tail++] = watch;
      this.lastDue = watch.due;
    }
    this.inFlight += 1;
    if (this.timer === undefined) {
      // Not unref'd: a call in flight is work the process should wait for, until it settles
      // or its deadline passes. The timer stops at the first tick with nothing in flight.
      this.timer = setInterval(() => this.expire(), this.tick);
    }
    return watch;
  }

  /** Ends the watch of a call; false when its deadline had already passed (it was expired). */
  settle(watch: Watch): boolean {
    if (watch.done) return false;
    watch.done = true;
    this.inFlight -= 1;
    if (watch.late) this.late.delete(watch);
    else this.dropSettled();
    return true;
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
      return Promise.reject(this.storeError(err, command));
    }
    return new Promise<T>((resolve, reject) => {
      const watch = this.watch(new Guarded(due, reject));
      running.then(
        (value) => {
          if (this.settle(watch)) resolve(value);
        },
        (err: unknown) => {
          if (this.settle(watch)) reject(this.storeError(err, command));
        },
      );
    });
  }

  // Drops settled watches from the head, so the queue holds about the calls in flight.
  private dropSettled(): void {
    const queue = this.queue;
    while (this.head < this.tail && queue[this.head]!.done) queue[this.head++] = undefined;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      this.lastDue = -Infinity;
    } else if (this.head >= 1024 && this.head * 2 >= this.tail) {
      queue.copyWithin(0, this.head, this.tail);
      queue.fill(undefined, this.tail - this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
  }

  private expire(): void {
    const now = performance.now();
    const queue = this.queue;
    for (let watch = queue[this.head]; this.head < this.tail && watch !== undefined && (watch.done || watch.due <= now); watch = queue[this.head]) {
      queue[this.head++] = undefined;
      if (!watch.done) this.timeOut(watch);
    }
    this.dropSettled();
    for (const watch of this.late) if (watch.due <= now) this.timeOut(watch);
    if (this.inFlight === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private timeOut(watch: Watch): void {
    watch.done = true;
    this.inFlight -= 1;
    if (watch.late) this.late.delete(watch);
    watch.expire(this.timeoutError());
  }

  /** A failure of `command` as a store error naming the command and the server only. */
  storeError(err: unknown, command: string): MultiTokenStoreError {
    if (err instanceof MultiTokenStoreError) return err;
    // The message names the command and the server only: keys and arguments never reach it.
    return new MultiTokenStoreError('ERR_MULTITOKEN_STORE', `Redis ${command}${this.where()} failed: ${whyFailed(err)}`, { cause: err });
  }

  private where(): string {
    return this.server === undefined ? '' : ` at ${this.server.where()}`;
  }

  private timeoutError(): MultiTokenStoreError {
    // Often a connection that is down, reconnecting: its last error says why.
    const last = this.server?.lastError();
    const why = last === undefined ? '' : `; last connection error: ${whyFailed(last)}`;
    return new MultiTokenStoreError('ERR_MULTITOKEN_TIMEOUT', `Redis${this.where()} did not answer within ${this.ms} ms${why}`, last === undefined ? undefined : { cause: last });
  }

}

/** The Redis server a deadline's calls go to, for error messages. */
export interface CallServer {
  /** The server as a URL or a name, never with a password. */
  where(): string;
  /** The connection's last error, when it has reported one since it was last up. */
  lastError(): unknown;
}

// TLS errors that mean the server's certificate was not trusted.
const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT/;

/**
 * Why a Redis call failed, in a few words: refused, timed out, authentication, a certificate,
 * or a server that is not Redis. Never the error's own text, which may echo arguments.
 */
export function whyFailed(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return whyFailed(err.errors[0]);
  if (!(err instanceof Error)) return 'unknown error';
  const raw = (err as Error & { code?: unknown }).code;
  const code = typeof raw === 'string' ? raw : '';
  if (code === 'ECONNREFUSED') return 'connection refused (ECONNREFUSED)';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host not found (${code})`;
  if (code === 'ETIMEDOUT' || err.name === 'ConnectionTimeoutError') return 'connection timed out';
  if (code === 'ECONNRESET' || code === 'EPIPE' || err.name === 'SocketClosedUnexpectedlyError') return `connection lost${code === '' ? '' : ` (${code})`}`;
  if (CERTIFICATE.test(code)) return `server certificate not trusted (${code})`;
  if (/^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message)) return `authentication or permission refused (${err.message.split(' ')[0]})`;
  if (/^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|OOM|BUSY|MOVED|ASK|TRYAGAIN|CROSSSLOT|NOSCRIPT)\b/.test(err.message)) return `Redis answered ${err.message.split(' ')[0]}`;
  if (/^ERR unknown command|protocol error/i.test(err.message)) return 'the server is not Redis, or lacks this command';
  if (err.name === 'ClientClosedError' || /client is closed/i.test(err.message)) return 'the client is closed';
  return code === '' ? err.name : `${err.name} (${code})`;
}
