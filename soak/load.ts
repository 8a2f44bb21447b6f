// The soak's workload: mixed token calls from many closed loops over many users, each outcome
// judged against what the soak knows (ledger.ts). A judgement is made only when it is sure:
// a call that overlapped a write on the same user is not held against the package.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { MultiTokenError } from '../src/errors.js';
import type { MultiTokenRepository } from '../src/repository.js';
import { generateToken, routingTag } from '../src/token.js';
import { RevokedSample, UserLedger, type SoakUser, type Tracked } from './ledger.js';

/** The shape of the load. */
export interface WorkloadOptions {
  users: number;
  /** Users that get `hotShare` of the calls, so they reach the cap and see evictions. */
  hotUsers: number;
  hotShare: number;
  /** Token lifetimes, seconds: uniform between these; `noTtlShare` of them have none. */
  ttlMin: number;
  ttlMax: number;
  noTtlShare: number;
  /** The repository's idleTimeout, in ms. */
  idleMs: number;
}

/** The calls the workload makes, as reported. */
export const OPERATIONS = ['createToken', 'authenticate', 'expireToken', 'expireAllTokens', 'listTokens'] as const;
/** One of {@link OPERATIONS}. */
export type Operation = (typeof OPERATIONS)[number];

/** What went wrong, by kind. Every count must end at 0. */
export interface Findings {
  /** A revoked token authenticated, or was listed, after its revocation was known. */
  falseSuccess: number;
  /** A made-up token authenticated. */
  unknownAccepted: number;
  /** A token answered for, or was listed under, a user other than its own. */
  wrongUser: number;
  /** A token authenticated, or was listed, after its absolute expiry. */
  expiredAccepted: number;
  /** A token surely alive (no write on its user meanwhile, well inside its lifetime) was refused or not listed. */
  liveRefused: number;
  /** Rejections and `touchFailed` events, by code. */
  errors: Map<string, number>;
}

/** Judged calls: how many revoked, unknown and surely-live tokens were actually put to the test. */
export interface Coverage {
  revokedTried: number;
  unknownTried: number;
  liveJudged: number;
  evicted: number;
}

const DEVICES = ['Firefox 128 on macOS 14', 'Safari on iPhone', 'curl/8.5.0', 'Chrome 126 on Windows 11'];
// A token is "surely alive" only this far inside its lifetime, for scheduling noise.
const MARGIN_MS = 250;
const ERROR_SAMPLES = 5;

const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(Math.random() * list.length)];

/** Mixed load on one repository, with every outcome judged. */
export class Workload {
  readonly ledgers: UserLedger[];
  readonly revoked: RevokedSample = new RevokedSample(1024, 4096);
  readonly findings: Findings = { falseSuccess: 0, unknownAccepted: 0, wrongUser: 0, expiredAccepted: 0, liveRefused: 0, errors: new Map() };
  readonly coverage: Coverage = { revokedTried: 0, unknownTried: 0, liveJudged: 0, evicted: 0 };
  readonly errorSamples: string[] = [];
  readonly latency: Map<Operation, RecordableHistogram> = new Map(OPERATIONS.map((op) => [op, createHistogram({ lowest: 1, highest: 60e9, figures: 3 })]));
  /** Calls settled so far, failed ones included. */
  calls = 0;
  private readonly byId = new Map<string, UserLedger>();
  // Ids evicted before the create that made them had settled here; judged when it settles.
  private readonly evictedEarly = new Set<string>();

  constructor(
    private readonly repository: MultiTokenRepository<SoakUser>,
    private readonly options: WorkloadOptions,
    private readonly anchors: { repository: MultiTokenRepository<SoakUser>; keys: readonly string[] },
  ) {
    this.ledgers = Array.from({ length: options.users }, (_, i) => new UserLedger(`soak-user-${i}`));
    for (const ledger of this.ledgers) this.byId.set(ledger.user.id, ledger);
    repository.on('expired', ({ reason, userId, ids }) => {
      if (reason !== 'evicted') return;
      const ledger = this.byId.get(userId);
      for (const id of ids) {
        this.coverage.evicted += 1;
        const tracked = ledger?.remove(id);
        if (ledger !== undefined && tracked !== undefined) this.noteRevoked(ledger, tracked);
        else if (ledger !== undefined) this.rememberEvicted(id);
      }
    });
    const onTouchFailed = ({ error }: { error: MultiTokenError }): void => this.noteError(`touchFailed ${error.code}`, error);
    repository.on('touchFailed', onTouchFailed);
    anchors.repository.on('touchFailed', onTouchFailed);
  }

  /** The routing tags of every user of the workload, for checking they do not collide with others. */
  tags(): string[] {
    return this.ledgers.map((ledger) => routingTag(ledger.user.id));
  }

  /** One call, chosen by weight: 30% create, 45% authenticate, 10% expire, 3% expire all, 12% list. */
  async step(): Promise<void> {
    const r = Math.random();
    const ledger = this.pickUser();
    if (r < 0.3) return this.timed('createToken', () => this.create(ledger));
    if (r < 0.75) return this.timed('authenticate', () => this.authenticate(ledger));
    if (r < 0.85) return this.timed('expireToken', () => this.expireOne(ledger));
    if (r < 0.88) return this.timed('expireAllTokens', () => this.expireAll(ledger));
    return this.timed('listTokens', () => this.list(ledger));
  }

  private pickUser(): UserLedger {
    const { users, hotUsers, hotShare, idleMs } = this.options;
    const at = Math.random() < hotShare ? Math.floor(Math.random() * hotUsers) : hotUsers + Math.floor(Math.random() * (users - hotUsers));
    const ledger = this.ledgers[at]!;
    ledger.prune(Date.now(), idleMs);
    return ledger;
  }

  private async timed(op: Operation, call: () => Promise<void>): Promise<void> {
    const t0 = process.hrtime.bigint();
    try {
      await call();
      const elapsed = process.hrtime.bigint() - t0;
      this.latency.get(op)!.record(elapsed > 0n ? elapsed : 1n);
    } catch (err) {
      this.noteError(`${op} ${err instanceof MultiTokenError ? err.code : err instanceof Error ? err.name : 'non-error'}`, err);
    } finally {
      this.calls += 1;
    }
  }

  private noteError(kind: string, err: unknown): void {
    this.findings.errors.set(kind, (this.findings.errors.get(kind) ?? 0) + 1);
    if (this.errorSamples.length < ERROR_SAMPLES) {
      const cause = err instanceof Error && err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
      this.errorSamples.push(`${kind}: ${err instanceof Error ? err.message : String(err)}${cause}`);
    }
  }

  private rememberEvicted(id: string): void {
    this.evictedEarly.add(id);
    if (this.evictedEarly.size > 256) this.evictedEarly.delete(this.evictedEarly.values().next().value!);
  }

  private noteRevoked(ledger: UserLedger, tracked: Tracked): void {
    const at = performance.now();
    const { key, id } = tracked.token;
    this.revoked.add({ key, id, owner: ledger.user.id, expiresAt: tracked.expiresAt, at });
    ledger.noteRevoked(id, at);
  }

  /** Whether `tracked` is well inside both its lifetimes at `now` (epoch ms). */
  private surelyAlive(tracked: Tracked, now: number): boolean {
    return tracked.certain &&
      (tracked.expiresAt === null || tracked.expiresAt > now + MARGIN_MS) &&
      tracked.lastUse + this.options.idleMs > now + MARGIN_MS;
  }

  private async create(ledger: UserLedger): Promise<void> {
    const { ttlMin, ttlMax, noTtlShare } = this.options;
    const ttl = Math.random() < noTtlShare ? null : ttlMin + Math.random() * (ttlMax - ttlMin);
    const wipes = ledger.wipes.mark();
    const done = ledger.writes.start();
    try {
      const { token } = await this.repository.createToken(ledger.user, { device: pick(DEVICES)!, ttl });
      const tracked: Tracked = {
        token,
        expiresAt: token.expiresAt?.getTime() ?? null,
        lastUse: token.createdAt.getTime(),
        certain: ledger.wipes.quietSince(wipes),
      };
      if (this.evictedEarly.delete(token.id)) this.noteRevoked(ledger, tracked);
      else ledger.tokens.push(tracked);
    } finally {
      done();
    }
  }

  private async authenticate(ledger: UserLedger): Promise<void> {
    const r = Math.random();
    const revoked = r < 0.2 ? this.revoked.pickRecent() : undefined;
    if (revoked !== undefined) {
      // The revocation was known before this call started, on the same connection: it must hold.
      this.coverage.revokedTried += 1;
      if ((await this.repository.authenticate(revoked.key)) !== null) this.findings.falseSuccess += 1;
      return;
    }
    if (r < 0.25) {
      const key = pick(this.anchors.keys)!;
      const found = await this.anchors.repository.authenticate(key);
      this.coverage.liveJudged += 1;
      if (found === null) this.findings.liveRefused += 1;
      return;
    }
    if (r < 0.28) {
      this.coverage.unknownTried += 1;
      const key = generateToken('rmt', routingTag(ledger.user.id));
      if ((await this.repository.authenticate(key)) !== null) this.findings.unknownAccepted += 1;
      return;
    }
    const tracked = pick(ledger.tokens);
    if (tracked === undefined) return this.create(ledger);
    const writes = ledger.writes.mark();
    const started = Date.now();
    const found = await this.repository.authenticate(tracked.token.key);
    if (found !== null) {
      if (found.token.userId !== ledger.user.id || found.user.id !== ledger.user.id) this.findings.wrongUser += 1;
      if (tracked.expiresAt !== null && tracked.expiresAt <= started) this.findings.expiredAccepted += 1;
      tracked.lastUse = Math.max(tracked.lastUse, found.token.lastUsedAt.getTime());
      return;
    }
    if (ledger.writes.quietSince(writes) && this.surelyAlive(tracked, Date.now())) {
      this.coverage.liveJudged += 1;
      this.findings.liveRefused += 1;
    }
  }

  private async expireOne(ledger: UserLedger): Promise<void> {
    const tracked = pick(ledger.tokens);
    if (tracked === undefined) return this.create(ledger);
    const done = ledger.writes.start();
    try {
      // By key and by the token createToken returned, half each.
      await this.repository.expireToken(Math.random() < 0.5 ? tracked.token.key : tracked.token);
      if (ledger.remove(tracked.token.id) !== undefined) this.noteRevoked(ledger, tracked);
    } finally {
      done();
    }
  }

  private async expireAll(ledger: UserLedger): Promise<void> {
    const before = [...ledger.tokens];
    const doneWipe = ledger.wipes.start();
    const done = ledger.writes.start();
    try {
      await this.repository.expireAllTokens(ledger.user);
      for (const tracked of before) {
        if (ledger.remove(tracked.token.id) !== undefined) this.noteRevoked(ledger, tracked);
      }
    } finally {
      done();
      doneWipe();
    }
  }

  private async list(ledger: UserLedger): Promise<void> {
    const writes = ledger.writes.mark();
    const startedAt = performance.now();
    const started = Date.now();
    const listed = await this.repository.listTokens(ledger.user);
    const ids = new Set<string>();
    for (const entry of listed) {
      ids.add(entry.id);
      if (entry.userId !== ledger.user.id) this.findings.wrongUser += 1;
      const revokedAt = ledger.revoked.get(entry.id);
      if (revokedAt !== undefined && revokedAt < startedAt) this.findings.falseSuccess += 1;
      if (entry.expiresAt !== null && entry.expiresAt.getTime() <= started) this.findings.expiredAccepted += 1;
    }
    if (!ledger.writes.quietSince(writes)) return;
    const now = Date.now();
    for (const tracked of ledger.tokens) {
      if (!this.surelyAlive(tracked, now)) continue;
      this.coverage.liveJudged += 1;
      if (!ids.has(tracked.token.id)) this.findings.liveRefused += 1;
    }
  }

  /**
   * How many users hold a token the soak believes alive at `now` (epoch ms): the hashes Redis
   * should hold for them, give or take the calls in flight and expired keys not yet reclaimed.
   */
  liveUsers(now: number): number {
    const { idleMs } = this.options;
    let count = 0;
    for (const ledger of this.ledgers) {
      if (ledger.tokens.some((t) => (t.expiresAt === null || t.expiresAt > now) && t.lastUse + idleMs > now)) count += 1;
    }
    return count;
  }

  /** Authenticates every sampled revoked token once more; returns how many were tried and how many were still within their lifetime. */
  async recheckRevoked(): Promise<{ tried: number; inLifetime: number }> {
    let tried = 0;
    let inLifetime = 0;
    const now = Date.now();
    for (const entry of this.revoked.all()) {
      tried += 1;
      if (entry.expiresAt === null || entry.expiresAt > now) inLifetime += 1;
      try {
        if ((await this.repository.authenticate(entry.key)) !== null) this.findings.falseSuccess += 1;
      } catch (err) {
        this.noteError(`re-check ${err instanceof MultiTokenError ? err.code : 'error'}`, err);
      }
    }
    return { tried, inLifetime };
  }
}
