import { badReply } from './replies.js';

// The stored record of one token: the value of its field in the tag's HASH. A short string, so
// that most hashes stay in Redis's compact listpack encoding (values up to 64 bytes by default):
//
//   <created>␟<expires>␟<lastUsed>␟<userId>[␟<scopes>[␟<device>[␟<meta>[␟<rotation>]]]]
//
// Times are epoch milliseconds in base 36 (8 characters until 2059), taken from the server's
// clock by the scripts. `expires` is empty for no expiry, `lastUsed` is empty until the first
// touch, `scopes` is empty for all (`*`). Trailing empty parts are left out. The separator is
// the ASCII unit separator, which no user id, device, scope or meta JSON can contain.
//
// `rotation` (only the rotation script writes it; see rotation.ts) ties a token to its family,
// the tokens rotated from one login:
//   absent or ''           a token never rotated from or to: its family is its own id
//   <family>               a token rotated from another: the family's id, that of its first token
//   [<family>]!<graceEnd>  a rotated-away token: it authenticates until graceEnd (epoch ms,
//                          base 36); used after that, until its own end of life, it is a reuse
// A family id is a token id (base64url), so it never holds '!'. A family has at most one token
// not rotated away, its head: the device as `listTokens` shows it.

/** Separates the parts of a record; the scripts use the same character. */
export const SEPARATOR = '\x1f';

const DEVICE_MAX = 256;
const META_ENTRIES_MAX = 16;
const META_KEY_MAX = 64;
const META_VALUE_MAX = 256;
const TIME = /^[0-9a-z]{1,11}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\x00-\x1F\x7F]/;
const EVERY_CONTROL_CHAR = new RegExp(CONTROL_CHARS.source, 'g');

/** One token's record as read back from Redis. */
export interface StoredRecord {
  userId: string;
  /** Epoch ms on the server's clock. */
  createdAt: number;
  expiresAt: number | null;
  /** Epoch ms of the last recorded use, or null before the first touch. */
  lastUsedAt: number | null;
  scopes: string[];
  device: string | null;
  meta: Record<string, string>;
  /** The family id, when it is not the token's own id (the token was rotated from another). */
  family: string | null;
  /** For a rotated-away token, when its grace ends (epoch ms); null for any other token. */
  graceEnd: number | null;
}

/** Whether a user id can be stored: non-empty, no control characters. */
export function isStorableUserId(userId: string): boolean {
  return userId !== '' && !CONTROL_CHARS.test(userId);
}

/**
 * Reads a device label: a string, its control characters turned into spaces (a User-Agent may
 * carry a tab, and a login must not fail over it), cut to 256 characters; empty is none.
 */
export function readDevice(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new TypeError('device must be a string');
  const device = value.replace(EVERY_CONTROL_CHAR, ' ').slice(0, DEVICE_MAX);
  return device === '' ? null : device;
}

/** Checks token meta: at most 16 string pairs, keys up to 64 and values up to 256 characters. */
export function readMeta(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('meta must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > META_ENTRIES_MAX) throw new TypeError(`meta holds at most ${META_ENTRIES_MAX} entries`);
  const meta: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (key === '__proto__') throw new TypeError('meta must not have a __proto__ key');
    if (key.length > META_KEY_MAX || typeof item !== 'string' || item.length > META_VALUE_MAX) {
      throw new TypeError(`meta keys are at most ${META_KEY_MAX} and values at most ${META_VALUE_MAX} characters, all strings`);
    }
    meta[key] = item;
  }
  return meta;
}

/** The part of a record after the user id, which the create script appends to what it stamps. */
export function recordTail(scopes: readonly string[], device: string | null, meta: Record<string, string>): string {
  const parts = [
    scopes.length === 1 && scopes[0] === '*' ? '' : scopes.join(' '),
    device ?? '',
    Object.keys(meta).length === 0 ? '' : JSON.stringify(meta),
  ];
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join(SEPARATOR);
}

function readTime(raw: string | undefined, optional: boolean, command: string): number | null {
  if (raw === undefined || raw === '') {
    if (optional) return null;
    throw badReply(command);
  }
  if (!TIME.test(raw)) throw badReply(command);
  return parseInt(raw, 36);
}

/** Reads a stored record; anything the package did not write is a bad reply. */
export function decodeRecord(value: string, command: string): StoredRecord {
  const parts = value.split(SEPARATOR);
  if (parts.length < 4 || parts.length > 8) throw badReply(command);
  const [created, expires, lastUsed, userId, scopes, device, meta, rotation] = parts;
  if (userId === undefined || userId === '') throw badReply(command);
  let readMetaValue: Record<string, string> = {};
  if (meta !== undefined && meta !== '') {
    try {
      readMetaValue = readMeta(JSON.parse(meta));
    } catch {
      throw badReply(command);
    }
  }
  return {
    userId,
    createdAt: readTime(created, false, command)!,
    expiresAt: readTime(expires, true, command),
    lastUsedAt: readTime(lastUsed, true, command),
    scopes: scopes === undefined || scopes === '' ? ['*'] : scopes.split(' '),
    device: device === undefined || device === '' ? null : device,
    meta: readMetaValue,
    // The usual record, never rotated, has no rotation part: one comparison on the verify path.
    family: rotation === undefined || rotation === '' ? null : readFamily(rotation, command),
    graceEnd: rotation === undefined || rotation === '' ? null : readGraceEnd(rotation),
  };
}

const ROTATION = /^([A-Za-z0-9_-]*)(?:!([0-9a-z]{1,11}))?$/;

function readFamily(rotation: string, command: string): string | null {
  const match = ROTATION.exec(rotation);
  if (match === null) throw badReply(command);
  return match[1] === '' ? null : match[1]!;
}

/** The grace end of a rotation part that `readFamily` has checked. */
function readGraceEnd(rotation: string): number | null {
  const bang = rotation.indexOf('!');
  return bang === -1 ? null : parseInt(rotation.slice(bang + 1), 36);
}

/**
 * When a record stops authenticating, in epoch ms: the earlier of its absolute expiry and its
 * idle deadline; Infinity for neither. The scripts compute the same in Lua.
 */
export function endOfLife(record: StoredRecord, idleMs: number | null): number {
  const expires = record.expiresAt ?? Infinity;
  if (idleMs === null) return expires;
  return Math.min(expires, (record.lastUsedAt ?? record.createdAt) + idleMs);
}
