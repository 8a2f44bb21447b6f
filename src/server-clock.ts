import type { StoreClient } from './client.js';
import type { CallDeadline } from './deadline.js';
import { normaliseInteger } from './replies.js';
import { runScript } from './run-script.js';
import { SERVER_TIME } from './scripts.js';

// The Redis server's clock, as seen from this process. Stored times come from the server's
// clock (TIME in the scripts), so expiry and idle time are judged against it, whatever this
// host's clock says: one TIME script beside a repository's first verification, taken as of the
// middle of its round trip, and again once a minute in the background. Between measurements
// the estimate runs on the monotonic clock (performance.now()), and the minute is counted on it
// too, so a step of the host's wall clock, either way, changes no verdict.

// How often a verifying repository measures the server's clock again.
const RESYNC_MS = 60_000;

/** An estimate of the Redis server's clock, from one small script now and then. */
export class ServerClock {
  private readonly clock: () => number;
  private readonly monotonic: () => number;
  private readonly deadline: CallDeadline;
  // The server's time minus `monotonic()`, in ms; null until a measurement told.
  private offset: number | null = null;
  // When (on `monotonic()`) the offset was measured, and the measurement in flight, if any.
  private measuredAt = -Infinity;
  private measuring: Promise<void> | undefined;

  /**
   * `clock` is the host's wall clock, used only until the first measurement succeeds;
   * `monotonic` (performance.now() but in specs) carries the estimate from then on.
   */
  constructor(clock: () => number, deadline: CallDeadline, monotonic: () => number = () => performance.now()) {
    this.clock = clock;
    this.deadline = deadline;
    this.monotonic = monotonic;
  }

  /** The server's time now, in epoch ms; this host's clock until a measurement succeeds. */
  now(): number {
    return this.offset === null ? this.clock() : this.monotonic() + this.offset;
  }

  /** A reading of the monotonic clock the estimate runs on (for a deadline, and {@link measureIfDue}). */
  reading(): number {
    return this.monotonic();
  }

  /**
   * Called beside a verification's read. Before the first measurement, returns it, for the
   * verification to wait for; later, starts a background re-measurement when one is due.
   */
  measureIfDue(store: StoreClient, routeKey: string, due: number, reading: number = this.monotonic()): Promise<void> | undefined {
    if (this.offset === null) return this.measure(store, routeKey, due);
    if (reading - this.measuredAt > RESYNC_MS) void this.measure(store, routeKey, due);
    return undefined;
  }

  /**
   * One TIME script on the connection that serves `routeKey`. One measurement at a time; it
   * never rejects, and a failed one leaves the last in force (the read reports a broken server).
   */
  private measure(store: StoreClient, routeKey: string, due: number): Promise<void> {
    if (this.measuring !== undefined) return this.measuring;
    const sent = this.monotonic();
    const measuring: Promise<void> = runScript(store, this.deadline, SERVER_TIME, [routeKey], [], due)
      .then((reply) => {
        const received = this.monotonic();
        const at = normaliseInteger(reply, 'EVALSHA time');
        this.offset = at - (sent + received) / 2;
        this.measuredAt = received;
      })
      .catch(() => {})
      .then(() => {
        if (this.measuring === measuring) this.measuring = undefined;
      });
    this.measuring = measuring;
    return measuring;
  }
}
