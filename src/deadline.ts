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
          reject(this.storeError(err, command));
        },
      );
    });
  }

  private expire(): void {
    const now = performance.now();
    for (const entry of this.pending) {
      if (entry.due <= now) {
        this.pending.delete(entry);
        entry.reject(this.timeoutError());
      }
    }
    if (this.pending.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
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

  private storeError(err: unknown, command: string): MultiTokenStoreError {
    if (err instanceof MultiTokenStoreError) return err;
    // The message names the command and the server only: keys and arguments never reach it.
    return new MultiTokenStoreError('ERR_MULTITOKEN_STORE', `Redis ${command}${this.where()} failed: ${whyFailed(err)}`, { cause: err });
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
