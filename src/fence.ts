import type { CallDeadline } from './deadline.js';

/**
 * Bounds how stale a client-side cache may be. Redis sends a cache invalidation on the caching
 * connection ahead of the reply to any later command there, so once a PING sent at time S has
 * come back, every revocation made before S has been applied to the cache. A verification may
 * read from the cache only when such a PING was sent within the last `bound` ms; otherwise it
 * waits (within its deadline) for a fresh one. A revocation is thus honoured everywhere within
 * `bound` ms, and a silent connection (a frozen server, a dropped link) serves no cached
 * answer past that bound.
 */
export class CacheFence {
  private readonly bound: number;
  private readonly ping: () => Promise<unknown>;
  // Monotonic send time of the latest PING whose reply has arrived.
  private heard = -Infinity;
  private flight: { sentAt: number; done: Promise<void> } | undefined;

  constructor(bound: number, ping: () => Promise<unknown>) {
    this.bound = bound;
    this.ping = ping;
  }

  /**
   * Undefined when the cache is fresh enough to read at `now` (performance.now()); else a
   * promise that settles once it is, or rejects (through the deadline) when the connection
   * stays silent.
   */
  ready(deadline: CallDeadline, due: number, now: number = performance.now()): Promise<void> | undefined {
    const age = now - this.heard;
    // Refresh ahead of need, so steady traffic never waits.
    if (age > this.bound / 2 && this.flight === undefined) this.send(now);
    if (age <= this.bound) return undefined;
    const flight = this.flight !== undefined && this.flight.sentAt >= now - this.bound ? this.flight : this.send(now);
    return deadline.guard(() => flight.done, 'PING', due);
  }

  private send(now: number): { sentAt: number; done: Promise<void> } {
    const flight = {
      sentAt: now,
      done: this.ping().then(() => {
        if (flight.sentAt > this.heard) this.heard = flight.sentAt;
      }),
    };
    flight.done.then(
      () => this.settle(flight),
      () => this.settle(flight),
    );
    this.flight = flight;
    return flight;
  }

  private settle(flight: { sentAt: number; done: Promise<void> }): void {
    if (this.flight === flight) this.flight = undefined;
  }
}
