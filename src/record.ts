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
//
// Bounds, in UTF-8 bytes after cleaning, so that no record is over RECORD_MAX_BYTES (1 KB):
// three times of 11 characters at most and 7 separators (40), a user id of 256, scopes of 256
// (scope.ts), a device label of 256, meta of 160 as encoded, and a rotation part of 34 (a
// family id, '!' and a time): 1,002 bytes at most. The
// pepper's fingerprint is not a part of the record: it starts the token id, the field's name.

/** Separates the parts of a record; the scripts use the same character. */
export const SEPARATOR = '\x1f';

/** The most bytes a stored record can take; the bounds below add up to less. */
export const RECORD_MAX_BYTES = 1024;
/** The most UTF-8 bytes of a user id. */
export const USER_ID_MAX_BYTES = 256;
/** The most UTF-8 bytes of a device label, after cleaning; a longer one is cut. */
export const DEVICE_MAX_BYTES = 256;
/** The most UTF-8 bytes of token meta as stored (JSON). */
export const META_MAX_BYTES = 160;
const META_ENTRIES_MAX = 16;
// Control characters (C0, DEL and C1): never in a user id.
const CONTROL_CHARS = /\p{Cc}/u;
// What a device label must not carry to a screen or a terminal: control characters, and the
// bidi controls that reorder what follows them (U+061C, U+200E, U+200F, U+202A–U+202E,
// U+2066–U+2069).
const LABEL_UNSAFE = /[\p{Cc}\p{Bidi_Control}]/gu;

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

/**
 * What is wrong with a user id, or null when it can be stored: it must be non-empty,
 * well-formed UTF-16 (a lone surrogate would be encoded as U+FFFD, the id of another user),
 * without control characters, and at most 256 bytes in UTF-8.
 */
export function userIdProblem(userId: string): string | null {
  if (userId === '') return 'is empty';
  if (!userId.isWellFormed()) return 'is not well-formed UTF-16 (a lone surrogate)';
  if (CONTROL_CHARS.test(userId)) return 'has a control character';
  if (Buffer.byteLength(userId, 'utf8') > USER_ID_MAX_BYTES) return `is over ${USER_ID_MAX_BYTES} bytes in UTF-8`;
  return null;
}

/** Whether a user id can be stored: see {@link userIdProblem}. */
export function isStorableUserId(userId: string): boolean {
  return userIdProblem(userId) === null;
}

/**
 * The stored id of what `userId(user)` gave, or a TypeError saying what is wrong with it. Two
 * ids that one encoding would merge must never reach Redis: they would be one user there.
 */
export function readUserId(raw: unknown): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    throw new TypeError('userId(user) gave no usable id: the user needs an id, a string or a number');
  }
  const userId = String(raw);
  const problem = userIdProblem(userId);
  if (problem !== null) throw new TypeError(`userId(user) gave no usable id: it ${problem}`);
  return userId;
}

/** `text` cut to at most `max` bytes of UTF-8, never inside a character. */
function cutUtf8(text: string, max: number): string {
  if (text.length * 3 <= max || Buffer.byteLength(text, 'utf8') <= max) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > max) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

/**
 * Reads a device label: a string whose control characters (C0, C1) and bidi controls become
 * spaces (a User-Agent may carry a tab, or C1 bytes decoded as Latin-1, and a login must not
 * fail over it), made well-formed, cut to 256 bytes of UTF-8; empty is none.
 */
export function readDevice(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new TypeError('device must be a string');
  const device = cutUtf8(value.replace(LABEL_UNSAFE, ' ').toWellFormed(), DEVICE_MAX_BYTES);
  return device === '' ? null : device;
}

function metaEntries(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError('meta must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > META_ENTRIES_MAX) throw new TypeError(`meta holds at most ${META_ENTRIES_MAX} entries`);
  const meta: Record<string, string> = {};
  for (const [key, item] of entries) {
    if (key === '__proto__') throw new TypeError('meta must not have a __proto__ key');
    if (typeof item !== 'string') throw new TypeError('meta values must be strings');
    meta[key] = item;
  }
  return meta;
}

/**
 * Checks token meta: at most 16 pairs of strings, at most 160 bytes once encoded as stored
 * (JSON, where a control character takes 6 bytes).
 */
export function readMeta(value: unknown): Record<string, string> {
  const meta = metaEntries(value);
  if (Object.keys(meta).length > 0 && Buffer.byteLength(JSON.stringify(meta), 'utf8') > META_MAX_BYTES) {
    throw new TypeError(`meta must be at most ${META_MAX_BYTES} bytes as stored (JSON, UTF-8)`);
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

// Base 36 digit values (0-9, a-z) by character code; -1 for any other character.
const BASE36 = new Int8Array(128).fill(-1);
for (let i = 0; i < 36; i++) BASE36[(i < 10 ? 48 : 87) + i] = i;

/**
 * The time in `value[from, to)`: 1 to 11 base 36 digits (0-9, a-z); null when the part is
 * empty and `optional`. Anything else is a bad reply. Read in place, with no string cut.
 */
function readTime(value: string, from: number, to: number, optional: boolean, command: string): number | null {
  if (from === to && optional) return null;
  if (to - from < 1 || to - from > 11) throw badReply(command);
  let time = 0;
  for (let i = from; i < to; i++) {
    const code = value.charCodeAt(i);
    const digit = code > 0x7f ? -1 : BASE36[code]!;
    if (digit < 0) throw badReply(command);
    time = time * 36 + digit;
  }
  return time;
}

// Where the part after the separator at `at` ends: the next separator, or the end. Past the
// end (no such part), it stays at the end.
function partEnd(value: string, at: number): number {
  if (at >= value.length) return value.length;
  const next = value.indexOf(SEPARATOR, at + 1);
  return next === -1 ? value.length : next;
}

/**
 * Reads a stored record; anything the package did not write is a bad reply. It runs on every
 * verification, so it walks the separators in place and cuts only the parts it returns.
 */
export function decodeRecord(value: string, command: string): StoredRecord {
  const created = value.indexOf(SEPARATOR);
  const expires = created === -1 ? -1 : value.indexOf(SEPARATOR, created + 1);
  const lastUsed = expires === -1 ? -1 : value.indexOf(SEPARATOR, expires + 1);
  if (lastUsed === -1) throw badReply(command);
  const userEnd = partEnd(value, lastUsed);
  if (userEnd === lastUsed + 1) throw badReply(command);
  // The optional parts, each ending where the next starts: scopes, device, meta, rotation.
  const scopesEnd = partEnd(value, userEnd);
  const deviceEnd = partEnd(value, scopesEnd);
  const metaEnd = partEnd(value, deviceEnd);
  const rotationEnd = partEnd(value, metaEnd);
  if (rotationEnd < value.length) throw badReply(command);
  let meta: Record<string, string> = {};
  if (metaEnd > deviceEnd + 1) {
    try {
      meta = metaEntries(JSON.parse(value.slice(deviceEnd + 1, metaEnd)));
    } catch {
      throw badReply(command);
    }
  }
  const rotation = rotationEnd > metaEnd + 1 ? value.slice(metaEnd + 1, rotationEnd) : '';
  return {
    userId: value.slice(lastUsed + 1, userEnd),
    createdAt: readTime(value, 0, created, false, command)!,
    expiresAt: readTime(value, created + 1, expires, true, command),
    lastUsedAt: readTime(value, expires + 1, lastUsed, true, command),
    scopes: scopesEnd > userEnd + 1 ? value.slice(userEnd + 1, scopesEnd).split(' ') : ['*'],
    device: deviceEnd > scopesEnd + 1 ? value.slice(scopesEnd + 1, deviceEnd) : null,
    meta,
    // The usual record, never rotated, has no rotation part: one comparison on the verify path.
    family: rotation === '' ? null : readFamily(rotation, command),
    graceEnd: rotation === '' ? null : readGraceEnd(rotation),
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
