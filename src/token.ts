import { createHash, createHmac, hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

// Pure token arithmetic: generation, parsing, checksum and digest. No I/O lives here.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Length of the routing tag: 6 base62 digits hold a 32-bit number. */
export const TAG_LENGTH = 6;
/** Length of the secret: 43 base62 digits carry 256 bits (43 × log2 62 ≈ 256.03). */
export const SECRET_LENGTH = 43;
/** Length of the CRC32 checksum in base62. */
export const CHECKSUM_LENGTH = 6;
/** Length of a token id: 128 bits in base64url. */
export const TOKEN_ID_LENGTH = 22;
const BODY_LENGTH = TAG_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
const ID_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_ID_LENGTH}}$`);
const BODY_PATTERN = /^[0-9A-Za-z]+$/;
const PREFIX_PATTERN = /^[A-Za-z][A-Za-z0-9]{0,15}$/;

/** A token string that passed the format and checksum checks. */
export interface ParsedToken {
  /** The whole token string. */
  readonly key: string;
  /** The routing tag that places the token beside its user's other keys. */
  readonly tag: string;
}

/** Whether `prefix` can start a token: a letter, then letters or digits, 16 at most. */
export function isValidTokenPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && PREFIX_PATTERN.test(prefix);
}

function base62Fixed(value: number, width: number): string {
  let out = '';
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

/**
 * The routing tag of a user: a plain SHA-256 of the user id, cut to 32 bits, in base62.
 * It never depends on a secret, so a pepper rotation keeps every user's keys in place.
 */
export function routingTag(userId: string): string {
  return base62Fixed(createHash('sha256').update(userId).digest().readUInt32BE(0), TAG_LENGTH);
}

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    // Rejection sampling: 248 = 4 × 62, so `byte % 62` stays uniform below it.
    for (const byte of randomBytes(length + 16)) {
      if (byte < 248) {
        out += ALPHABET.charAt(byte % 62);
        if (out.length === length) break;
      }
    }
  }
  return out;
}

function checksum(prefix: string, tagAndSecret: string): string {
  return base62Fixed(crc32(`${prefix}_${tagAndSecret}`), CHECKSUM_LENGTH);
}

/** Mints a new token string: `<prefix>_<tag><secret><checksum>`, all after `_` in base62. */
export function generateToken(prefix: string, tag: string): string {
  const tagAndSecret = tag + randomBase62(SECRET_LENGTH);
  return `${prefix}_${tagAndSecret}${checksum(prefix, tagAndSecret)}`;
}

/**
 * Checks a candidate token's shape and checksum, with no I/O. Returns null for anything that
 * is not a well-formed token of this prefix.
 */
export function parseToken(key: unknown, prefix: string): ParsedToken | null {
  if (typeof key !== 'string' || key.length !== prefix.length + 1 + BODY_LENGTH) return null;
  if (!key.startsWith(prefix) || key[prefix.length] !== '_') return null;
  const body = key.slice(prefix.length + 1);
  if (!BODY_PATTERN.test(body)) return null;
  const tagAndSecret = body.slice(0, TAG_LENGTH + SECRET_LENGTH);
  // The checksum is public (anyone can compute it), so a plain comparison leaks nothing.
  if (checksum(prefix, tagAndSecret) !== body.slice(TAG_LENGTH + SECRET_LENGTH)) return null;
  return { key, tag: body.slice(0, TAG_LENGTH) };
}

/** Whether `value` has the shape of a token id, as {@link tokenId} makes them. */
export function isTokenId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * The public id of a token under one pepper: the first 128 bits of its SHA-256 (or
 * HMAC-SHA-256) digest, base64url. It names the token's record; it cannot be turned back into
 * the token, so showing or logging it grants nothing.
 */
export function tokenId(key: string, secret: Buffer | null): string {
  if (secret !== null) return createHmac('sha256', secret).update(key).digest().subarray(0, 16).toString('base64url');
  // The hot path of verification. crypto.hash is the one-shot form, well over twice as fast as
  // createHash for short input, and asking it for base64url skips a hex string and its decoding.
  // 16 bytes are 21 base64 digits and 2 bits: the 22nd digit keeps its top 2 bits, the rest zero,
  // exactly as encoding the 16 bytes alone would give.
  const digest = hash('sha256', key, 'base64url');
  return digest.slice(0, 21) + BASE64URL.charAt(BASE64URL.indexOf(digest.charAt(21)) & 0x30);
}
