import type { StoreClient } from './client.js';
import type { StoreConnection } from './connection.js';
import { Watch, type CallDeadline } from './deadline.js';
import type { MultiTokenStoreError } from './errors.js';
import { tagKey } from './keys.js';
import type { Settings } from './options.js';
import { decodeRecord, endOfLife, type StoredRecord } from './record.js';
import { badReply, normaliseString } from './replies.js';
import { refuseRotatedAway, type RotationHost } from './rotation.js';
import type { ServerClock } from './server-clock.js';
import { tokenId, tokenIds } from './token.js';
import { tokenInfo } from './token-info.js';
import type { TokenToucher } from './touch.js';
import type { AuthenticatedToken } from './types.js';

// Verification: one HGET of the token's field (one HMGET with several peppers), the checks in
// process, and a `lastUsedAt` write at most once per `touchInterval`, all under one deadline.
//
// It runs for every authenticated request, so the usual case is written for the least work
// and the least garbage: a store at hand, one pepper, the server's clock measured and a fresh
// cache fence make it one read, watched by the deadline through one object that also takes
// the reply, and a judgement that answers at once unless a touch is due or `findUser` is
// async. No async function and no promise of its own: the outcome goes to a receiver (the
// strategy's request, or the promise of `authenticate()`). Everything else (the first
// verification, which measures the server's clock; a fence to wait for; several peppers; a
// connection still opening) takes the general path, which ends in the same judgement.

/** What the touch script answers for a token that is no longer there. */
const GONE = -1;

/** The outcome of a verification: the user and token info of a live token, or null. */
export type Verified<User> = AuthenticatedToken<User> | null;

/** Takes the outcome of one verification: exactly one of its methods is called, once. */
export interface VerifyReceiver<User> {
  verified(found: Verified<User>): void;
  failed(err: unknown): void;
}

/** The parts of a repository a verification uses. */
export interface VerifierParts<User> {
  readonly settings: Settings<User>;
  readonly connection: StoreConnection;
  readonly deadline: CallDeadline;
  readonly serverClock: ServerClock;
  readonly toucher: TokenToucher;
  readonly rotation: RotationHost<User>;
}

/** Hands a verdict that may still be on its way to `receiver`. */
function deliver<User>(verdict: Verified<User> | Promise<Verified<User>>, receiver: VerifyReceiver<User>): void {
  if (verdict instanceof Promise) {
    verdict.then(
      (found) => receiver.verified(found),
      (err: unknown) => receiver.failed(err),
    );
  } else receiver.verified(verdict);
}

// The usual verification in flight: its deadline's watch, and where its reply goes.
class Verification<User> extends Watch {
  private readonly verifier: Verifier<User>;
  private readonly store: StoreClient;
  private readonly hashKey: string;
  readonly id: string;
  private readonly receiver: VerifyReceiver<User>;

  constructor(verifier: Verifier<User>, store: StoreClient, hashKey: string, id: string, due: number, receiver: VerifyReceiver<User>) {
    super(due);
    this.verifier = verifier;
    this.store = store;
    this.hashKey = hashKey;
    this.id = id;
    this.receiver = receiver;
  }

  expire(err: MultiTokenStoreError): void {
    this.receiver.failed(err);
  }

  /** The HGET's reply, unless the deadline passed first. */
  replied(reply: unknown, deadline: CallDeadline): void {
    if (!deadline.settle(this)) return;
    let verdict: Verified<User> | Promise<Verified<User>>;
    try {
      verdict = this.verifier.judge(this.store, this.hashKey, this.id, normaliseString(reply, 'HGET'), this.due);
    } catch (err) {
      // A bad reply (a store error), or what a synchronous findUser threw, as it is.
      this.receiver.failed(err);
      return;
    }
    deliver(verdict, this.receiver);
  }

  /** The HGET's failure, unless the deadline passed first. */
  refused(err: unknown, deadline: CallDeadline): void {
    if (deadline.settle(this)) this.receiver.failed(deadline.storeError(err, 'HGET'));
  }
}

/** A verification that tells a receiver instead of settling a promise. */
export type VerifyInto<User> = (key: string, receiver: VerifyReceiver<User>) => void;

// Each repository's way to verify into a receiver: what the strategy calls when the
// repository's `authenticate` is the package's own, to spare a promise per request. Kept here
// rather than as a method, so it is no part of the public API.
const intos = new WeakMap<object, VerifyInto<never>>();

/** Registers `repository`'s verification into a receiver. */
export function offerVerifyInto<User>(repository: object, into: VerifyInto<User>): void {
  intos.set(repository, into);
}

/** What {@link offerVerifyInto} registered for `repository`, if anything. */
export function verifyIntoOf<User>(repository: object): VerifyInto<User> | undefined {
  return intos.get(repository);
}

/** Verifies the tokens of one repository. */
export class Verifier<User> {
  private readonly parts: VerifierParts<User>;

  constructor(parts: VerifierParts<User>) {
    this.parts = parts;
  }

  /**
   * Verifies `key`, a token with a good checksum and routing tag `tag`, and tells `receiver`:
   * the user and token info, null for a token that is not live, or a store error when Redis
   * cannot answer within the deadline.
   */
  verify(key: string, tag: string, receiver: VerifyReceiver<User>): void {
    const { settings, connection } = this.parts;
    const hashKey = tagKey(settings.keyPrefix, tag);
    const ready = connection.ready(hashKey);
    if (ready instanceof Promise) {
      ready.then(
        (store) => this.read(store, key, hashKey, receiver),
        (err: unknown) => receiver.failed(err),
      );
    } else this.read(ready, key, hashKey, receiver);
  }

  private read(store: StoreClient, key: string, hashKey: string, receiver: VerifyReceiver<User>): void {
    const { settings, connection, deadline, serverClock } = this.parts;
    // One reading of the monotonic clock for the deadline, the clock's re-measurement check and
    // the cache fence. The verdict reads the clock again when the reply is in: the server's
    // time then is never before the record's own stamps.
    const started = serverClock.reading();
    const due = started + deadline.ms;
    // The first verification measures the server's clock beside its read, and waits for it.
    const measuring = serverClock.measureIfDue(store, hashKey, due, started);
    const fenced = connection.fence?.ready(deadline, due, started);
    const { secrets } = settings;
    if (measuring !== undefined || fenced !== undefined || secrets.length !== 1) {
      deliver(this.readInGeneral(store, key, hashKey, due, measuring, fenced), receiver);
      return;
    }
    const watch = new Verification(this, store, hashKey, tokenId(key, secrets[0]!, settings.fingerprints[0]), due, receiver);
    let reading: Promise<unknown>;
    try {
      reading = store.hGet(hashKey, watch.id);
    } catch (err) {
      receiver.failed(deadline.storeError(err, 'HGET'));
      return;
    }
    deadline.watch(watch);
    reading.then(
      (reply) => watch.replied(reply, deadline),
      (err: unknown) => watch.refused(err, deadline),
    );
  }

  private async readInGeneral(
    store: StoreClient,
    key: string,
    hashKey: string,
    due: number,
    measuring: Promise<void> | undefined,
    fenced: Promise<void> | undefined,
  ): Promise<Verified<User>> {
    const { settings, deadline } = this.parts;
    if (fenced !== undefined) await fenced;
    const { secrets, fingerprints } = settings;
    let id: string;
    let stored: string | null;
    if (secrets.length === 1) {
      id = tokenId(key, secrets[0]!, fingerprints[0]);
      stored = normaliseString(await deadline.guard(() => store.hGet(hashKey, id), 'HGET', due), 'HGET');
    } else {
      // Every pepper's id is a field of the same hash: one command, however many are listed.
      const ids = tokenIds(key, secrets, fingerprints);
      const reply = await deadline.guard(() => store.hmGet(hashKey, ids), 'HMGET', due);
      if (!Array.isArray(reply) || reply.length !== ids.length) throw badReply('HMGET');
      const at = reply.findIndex((value) => normaliseString(value, 'HMGET') !== null);
      if (at === -1) return null;
      id = ids[at]!;
      stored = normaliseString(reply[at], 'HMGET');
    }
    if (measuring !== undefined) await measuring;
    return this.judge(store, hashKey, id, stored, due);
  }

  /** The verdict on a stored record: at once, unless a reuse, an async `findUser` or a touch needs a round trip. */
  judge(store: StoreClient, hashKey: string, id: string, stored: string | null, due: number): Verified<User> | Promise<Verified<User>> {
    if (stored === null) return null;
    const { settings, serverClock } = this.parts;
    const record = decodeRecord(stored, 'HGET');
    const now = serverClock.now();
    if (endOfLife(record, settings.idleMs) <= now) return null;
    // Rotated away and past its grace: refused, and a reuse (rotation.ts).
    if (record.graceEnd !== null && record.graceEnd <= now) return refuseRotatedAway(this.parts.rotation, hashKey, id, record.userId, due);
    const found = settings.findUser(record.userId);
    if (found instanceof Promise) return found.then((user) => this.admit(store, hashKey, id, record, now, user, due));
    return this.admit(store, hashKey, id, record, now, found, due);
  }

  private admit(
    store: StoreClient,
    hashKey: string,
    id: string,
    record: StoredRecord,
    now: number,
    user: User | null | undefined,
    due: number,
  ): Verified<User> | Promise<Verified<User>> {
    if (user === null || user === undefined || (user as unknown) === false) return null;
    const token = tokenInfo(id, record);
    const { touchMs, idleMs } = this.parts.settings;
    if (now - (record.lastUsedAt ?? record.createdAt) < touchMs) return { user, token };
    // The answer waits for the touch (within the same deadline): a touch that finds the token
    // gone, revoked between the read and now, refuses the verification. A touch that fails
    // never does. At most once per touchInterval per token, so the wait is rare.
    return this.parts.toucher.touch(store, hashKey, token, due).then((at) => {
      if (at === GONE) return null;
      if (at > 0 && idleMs !== null) token.lastUsedAt = new Date(at);
      return { user, token };
    });
  }
}
