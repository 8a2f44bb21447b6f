import { decodeRecord, type StoredRecord } from './record.js';
import { badReply, normaliseString } from './replies.js';
import type { ListedToken, TokenInfo } from './types.js';

// Token info as the package hands it out, branded. `expireToken` takes only these, never a
// look-alike object built from request data, which could name someone else's token.
//
// The brand is a private field stamped onto the plain object: a base class whose constructor
// returns the object it is given makes `new Brand(info)` install `#produced` on `info` itself.
// Only this module can stamp or test it, no copy or JSON round trip carries it, and unlike a
// WeakSet entry it costs the garbage collector nothing (it is one more property).

// eslint-disable-next-line @typescript-eslint/no-extraneous-class -- its constructor is the point: it hands back `target`
class Carrier {
  constructor(target: object) {
    return target;
  }
}

class Brand extends Carrier {
  #produced = true;

  static has(value: object): boolean {
    return #produced in value;
  }
}

/** Marks `info` as produced by the package, so revocation calls accept it. */
export function markProduced<T extends TokenInfo>(info: T): T {
  if (!Brand.has(info)) new Brand(info);
  return info;
}

/** The token info of a stored record, marked as produced. */
export function tokenInfo(id: string, record: StoredRecord): TokenInfo {
  const info: TokenInfo = {
    id,
    userId: record.userId,
    device: record.device,
    scopes: record.scopes,
    meta: record.meta,
    createdAt: new Date(record.createdAt),
    expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt),
    lastUsedAt: new Date(record.lastUsedAt ?? record.createdAt),
  };
  new Brand(info); // a new object: it has no brand yet
  return info;
}

/**
 * `value` as token info the package produced; a TypeError naming `call` for anything else,
 * a look-alike object included.
 */
export function producedToken(value: unknown, call: string): TokenInfo {
  if (value === null || typeof value !== 'object' || !Brand.has(value)) {
    throw new TypeError(
      `${call} takes a token string, or token info this package produced (req.authInfo, a token from createToken); ` +
        'to revoke a token by its id, use expireTokenById(user, id)',
    );
  }
  return value as TokenInfo;
}

/**
 * The live tokens of a LIST_TOKENS reply, one entry per device, newest first: a rotated-away
 * token is left out (its family's head stands for the device, see rotation.ts), and the
 * device of a token in `currentIds` is marked `current`, whichever of its family asked.
 */
export function listedTokens(reply: unknown, currentIds: readonly string[]): ListedToken[] {
  if (!Array.isArray(reply) || reply.length % 2 !== 1) throw badReply('EVALSHA list');
  const records: { id: string; record: StoredRecord }[] = [];
  const currentFamilies = new Set<string>();
  for (let i = 1; i < reply.length; i += 2) {
    const id = normaliseString(reply[i], 'EVALSHA list');
    const value = normaliseString(reply[i + 1], 'EVALSHA list');
    if (id === null || value === null) throw badReply('EVALSHA list');
    const record = decodeRecord(value, 'EVALSHA list');
    records.push({ id, record });
    if (currentIds.includes(id)) currentFamilies.add(record.family ?? id);
  }
  const list: ListedToken[] = [];
  for (const { id, record } of records) {
    if (record.graceEnd === null) list.push(markProduced({ ...tokenInfo(id, record), current: currentFamilies.has(record.family ?? id) }));
  }
  return list.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? -1 : 1));
}
