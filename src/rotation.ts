import type { EventEmitter } from 'node:events';
import { tagKey } from './keys.js';
import { positiveSeconds, type Settings } from './options.js';
import { decodeRecord } from './record.js';
import { badReply, normaliseInteger, normaliseString, normaliseStrings } from './replies.js';
import { REVOKE_FAMILY, ROTATE_TOKEN, type LuaScript } from './scripts.js';
import { generateToken, isTokenId, parseToken, routingTag, tokenId, tokenIds } from './token.js';
import { markProduced, producedToken } from './token-info.js';
import type { AuthInfoLike, IssuedToken, MultiTokenEvents, RotateTokenOptions, TokenReference } from './types.js';

// Rotation: a token swapped for a new one with the same device, scopes and meta, the old one
// still working for a grace period so that requests already in flight pass. The tokens rotated
// from one login form a family (one device); its one token not rotated away is its head. A
// rotated-away token used after its grace, until its own end of life, is a reuse: someone holds
// a token its owner has moved on from, so the whole family is revoked at once.
//
// The verify path stays one plain HGET: the record says whether the token is rotated away and
// when its grace ends (record.ts), so a live token costs nothing more, and only a refused
// rotated-away token runs a script. Every write here is one script on the user's hash, through
// the repository's write path, so `replicas` applies to a family revocation as to any other.

/** Rotated-away tokens a family keeps for detection; an older one is dropped, and then unknown. */
export const ROTATED_KEPT = 4;
const DEFAULT_GRACE_SECONDS = 30;
const MAX_GRACE_SECONDS = 86400;

/** What rotation needs of its repository. */
export interface RotationHost<User> {
  readonly settings: Settings<User>;
  /** Runs a script on the repository's write path, within the deadline `due` when given. */
  script(script: LuaScript, key: string, args: string[], due?: number): Promise<unknown>;
  readonly events: EventEmitter<MultiTokenEvents>;
}

/** Reads `grace` in seconds into milliseconds: 0 up to a day; default 30 s. */
export function readGrace(value: unknown): number {
  if (value === undefined) return DEFAULT_GRACE_SECONDS * 1000;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_GRACE_SECONDS) {
    throw new TypeError(`grace must be a number of seconds from 0 to ${MAX_GRACE_SECONDS}`);
  }
  return Math.round(value * 1000);
}

/** Where `current` lives and the ids it may have: one per pepper for a key, one for token info. */
function locate(current: TokenReference | AuthInfoLike | undefined, settings: Settings<unknown>): { tag: string; ids: string[]; userId: string } | null {
  if (typeof current === 'string') {
    const parsed = parseToken(current, settings.tokenPrefix);
    if (parsed === null) return null;
    return { tag: parsed.tag, ids: tokenIds(parsed.key, settings.secrets, settings.fingerprints), userId: '' };
  }
  const token = producedToken(current, 'rotateToken');
  if (!isTokenId(token.id)) return null;
  return { tag: routingTag(token.userId), ids: [token.id], userId: token.userId };
}

/**
 * Rotates `current` (a key, or token info the package produced): one script issues its
 * successor and starts the old one's grace. Null when `current` is not a live family head, or
 * its user is gone; a rotated-away token past its grace is a reuse, and revokes its family.
 */
export async function rotate<User>(
  host: RotationHost<User>,
  current: TokenReference | AuthInfoLike | undefined,
  options: RotateTokenOptions,
): Promise<{ token: IssuedToken<User> } | null> {
  const { settings } = host;
  const graceMs = readGrace(options.grace);
  const ttlMs = options.ttl === undefined ? settings.ttlMs : positiveSeconds('ttl', options.ttl, true);
  const found = locate(current, settings as Settings<unknown>);
  if (found === null) return null;
  const hashKey = tagKey(settings.keyPrefix, found.tag);
  const key = generateToken(settings.tokenPrefix, found.tag);
  const id = tokenId(key, settings.secrets[0] ?? null, settings.fingerprints[0]);
  const reply = await host.script(ROTATE_TOKEN, hashKey, [
    found.userId,
    String(settings.idleMs ?? 0),
    id,
    ttlMs === null ? '' : String(ttlMs),
    String(graceMs),
    settings.reuseDetection ? '1' : '0',
    String(ROTATED_KEPT),
    settings.liveFingerprints,
    ...found.ids,
  ]);
  if (!Array.isArray(reply) || (reply.length !== 1 && reply.length !== 4)) throw badReply('EVALSHA rotate');
  const now = normaliseInteger(reply[0], 'EVALSHA rotate');
  if (reply.length === 1) return null;
  const status = normaliseInteger(reply[1], 'EVALSHA rotate');
  const oldId = normaliseString(reply[2], 'EVALSHA rotate');
  const detail = normaliseString(reply[3], 'EVALSHA rotate');
  if (oldId === null || detail === null || (status !== 1 && status !== 2)) throw badReply('EVALSHA rotate');
  if (status === 2) {
    if (settings.reuseDetection) await revokeFamily(host, hashKey, oldId, detail);
    return null;
  }
  const old = decodeRecord(detail, 'EVALSHA rotate');
  const owner = settings.findUser(old.userId);
  const user = owner instanceof Promise ? await owner : owner;
  if (user === null || user === undefined || (user as unknown) === false) return null;
  const token: IssuedToken<User> = {
    key,
    id,
    user,
    userId: old.userId,
    device: old.device,
    scopes: old.scopes,
    meta: old.meta,
    createdAt: new Date(now),
    expiresAt: ttlMs === null ? null : new Date(now + ttlMs),
    lastUsedAt: new Date(now),
  };
  markProduced(token);
  host.events.emit('rotated', { userId: old.userId, oldId, newId: id, family: old.family ?? oldId });
  return { token };
}

/**
 * The verification of a rotated-away token past its grace: refused, and with detection on, a
 * reuse that revokes its family, within the verification's deadline.
 */
export async function refuseRotatedAway<User>(host: RotationHost<User>, hashKey: string, id: string, userId: string, due: number): Promise<null> {
  if (host.settings.reuseDetection) await revokeFamily(host, hashKey, id, userId, due);
  return null;
}

/**
 * A rotated-away token was used after its grace: one script revokes its whole family (the
 * server's clock decides, and only the call that removed it reports it, so `reuseDetected`
 * fires once however many processes saw the reuse). Within the deadline `due` when given.
 */
async function revokeFamily<User>(host: RotationHost<User>, hashKey: string, id: string, userId: string, due?: number): Promise<void> {
  const reply = await host.script(REVOKE_FAMILY, hashKey, [String(host.settings.idleMs ?? 0), id, userId, host.settings.liveFingerprints], due);
  if (!Array.isArray(reply) || reply.length === 0) throw badReply('EVALSHA reuse');
  if (normaliseInteger(reply[0], 'EVALSHA reuse') !== 2) return;
  const [family, ...heads] = normaliseStrings(reply.slice(1), 'EVALSHA reuse');
  if (family === undefined) throw badReply('EVALSHA reuse');
  if (heads.length > 0) host.events.emit('expired', { reason: 'reuse', userId, ids: heads });
  host.events.emit('reuseDetected', { userId, family, id });
}
