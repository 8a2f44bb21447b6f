// What the soak knows about the tokens it made: which are live, which are revoked and since
// when, and which writes were in flight, so that every outcome can be judged. Bounded, so the
// soak's own bookkeeping does not pass for a leak in the package's heap.
import type { IssuedToken } from '../src/types.js';

/** A token the soak created and still follows. */
export interface Tracked {
  readonly token: IssuedToken<SoakUser>;
  /** Epoch ms of the absolute expiry, server clock; null for none. */
  readonly expiresAt: number | null;
  /** A lower bound of the last use the server recorded, epoch ms. */
  lastUse: number;
  /** False when a revocation of all the user's tokens overlapped its creation. */
  certain: boolean;
}

/** A token known to be revoked, and when that became known (performance.now()). */
export interface Revoked {
  readonly key: string;
  readonly id: string;
  readonly owner: string;
  readonly expiresAt: number | null;
  readonly at: number;
}

/** The user object the soak hands to the repository. */
export interface SoakUser {
  id: string;
}

/** Calls of one kind on one user: how many started, and how many are running. */
export class Activity {
  private started = 0;
  private running = 0;

  /** Marks a call as started; returns the function that marks it done. */
  start(): () => void {
    this.started += 1;
    this.running += 1;
    let done = false;
    return () => {
      if (!done) this.running -= 1;
      done = true;
    };
  }

  /** A mark to hand to `quietSince`. */
  mark(): { started: number; running: number } {
    return { started: this.started, running: this.running };
  }

  /** Whether no call of this kind ran at any moment since `mark` was taken. */
  quietSince(mark: { started: number; running: number }): boolean {
    return mark.running === 0 && this.running === 0 && this.started === mark.started;
  }
}

/** How long a revoked id is kept for listTokens checks: past the longest lifetime, it cannot be listed anyway. */
const REVOKED_KEEP_MS = 10_000;

/** One user's tokens, and the calls in flight on them. */
export class UserLedger {
  readonly user: SoakUser;
  readonly tokens: Tracked[] = [];
  /** Ids revoked lately, with when (performance.now()); for judging listTokens. */
  readonly revoked = new Map<string, number>();
  /** Every call that may remove tokens: create (the cap), expire, expire all. */
  readonly writes: Activity = new Activity();
  /** expireAllTokens calls, which make a token created meanwhile uncertain. */
  readonly wipes: Activity = new Activity();

  constructor(id: string) {
    this.user = { id };
  }

  /** Drops the token from the live list; returns it when it was there. */
  remove(id: string): Tracked | undefined {
    const at = this.tokens.findIndex((t) => t.token.id === id);
    if (at === -1) return undefined;
    return this.tokens.splice(at, 1)[0];
  }

  /** Drops tokens whose lifetime has surely passed, so the list stays short. */
  prune(now: number, idleMs: number): void {
    for (let i = this.tokens.length - 1; i >= 0; i--) {
      const t = this.tokens[i]!;
      if ((t.expiresAt !== null && t.expiresAt < now - 1000) || t.lastUse + idleMs < now - 1000) this.tokens.splice(i, 1);
    }
  }

  /** Remembers a revoked id for listTokens checks; ids older than any lifetime are let go. */
  noteRevoked(id: string, at: number): void {
    for (const [old, when] of this.revoked) {
      if (when >= at - REVOKED_KEEP_MS) break;
      this.revoked.delete(old);
    }
    this.revoked.set(id, at);
  }
}

/**
 * Revoked tokens kept for re-checking: the most recent ones in a ring, and a uniform sample of
 * all of them in a reservoir. Both have a fixed size.
 */
export class RevokedSample {
  private readonly ring: Revoked[] = [];
  private ringAt = 0;
  private readonly reservoir: Revoked[] = [];
  /** How many revocations were recorded in all. */
  total = 0;

  constructor(
    private readonly ringSize: number,
    private readonly reservoirSize: number,
  ) {}

  add(entry: Revoked): void {
    this.total += 1;
    if (this.ring.length < this.ringSize) this.ring.push(entry);
    else this.ring[this.ringAt] = entry;
    this.ringAt = (this.ringAt + 1) % this.ringSize;
    if (this.reservoir.length < this.reservoirSize) this.reservoir.push(entry);
    else {
      const slot = Math.floor(Math.random() * this.total);
      if (slot < this.reservoirSize) this.reservoir[slot] = entry;
    }
  }

  /** A random recent revoked token, or undefined before the first. */
  pickRecent(): Revoked | undefined {
    return this.ring[Math.floor(Math.random() * this.ring.length)];
  }

  /** The recent ones and the reservoir, without repeats. */
  all(): Revoked[] {
    return [...new Set([...this.ring, ...this.reservoir])];
  }
}
