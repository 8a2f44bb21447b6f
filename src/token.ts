import { createHash, createHmac, hash, randomBytes } from 'node:crypto';

// Pure token arithmetic: generation, parsing, checksum and digest. No I/O lives here.
//
// Invariants: a token is `<prefix>_<tag><secret><checksum>`, all after `_` in base62. The tag
// is 64 bits of a plain SHA-256 of the user id, so no one who chooses user ids can grind two
// users onto one hash (about 2^64 digests for a targeted collision), and it never depends on a
// pepper, so a pepper rotation moves no keys. A token id starts with the fingerprint of the
// pepper it was made under, so the scripts can drop the records of a pepper that was dropped.

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Length of the routing tag: 11 base62 digits hold a 64-bit number (62^11 > 2^64). */
export const TAG_LENGTH = 11;
/** Length of the secret: 43 base62 digits carry 256 bits (43 × log2 62 ≈ 256.03). */
export const SECRET_LENGTH = 43;
/** Length of the CRC32 checksum in base62. */
export const CHECKSUM_LENGTH = 6;
/** Length of a token id: its pepper's fingerprint, then 108 bits of digest, in base64url. */
export const TOKEN_ID_LENGTH = 22;
/** Length of a pepper's fingerprint, the first characters of every token id made under it: 24 bits in base64url. */
export const FINGERPRINT_LENGTH = 4;
const DIGEST_CHARS = TOKEN_ID_LENGTH - FINGERPRINT_LENGTH;
const BODY_LENGTH = TAG_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
const ID_PATTERN = new RegExp(`^[A-Za-z0-9_-]{${TOKEN_ID_LENGTH}}$`);
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

const BIG_62 = 62n;

/**
 * The routing tag of a user: a plain SHA-256 of the user id, cut to 64 bits, in base62.
 * It never depends on a secret, so a pepper rotation keeps every user's keys in place.
 */
export function routingTag(userId: string): string {
  let rest = createHash('sha256').update(userId).digest().readBigUInt64BE(0);
  let out = '';
  for (let i = 0; i < TAG_LENGTH; i++) {
    out = ALPHABET.charAt(Number(rest % BIG_62)) + out;
    rest /= BIG_62;
  }
  return out;
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

// Base62 digit values by character code; -1 for any other character.
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

// The CRC-32 (IEEE 802.3, as zlib's crc32) table. The checksum runs on every verification and
// on every malformed token an attacker sends, so it is computed here over the characters in
// place: no string is cut or encoded for it. Every character it covers is ASCII, one byte.
const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/**
 * CRC-32 of the ASCII characters `text[0, end)`, or -1 when a character from `digitsFrom` on is
 * not a base62 digit: the checksum and the format check in one pass.
 */
function crc32Ascii(text: string, end: number, digitsFrom: number = end): number {
  let crc = -1;
  for (let i = 0; i < end; i++) {
    const code = text.charCodeAt(i);
    if (i >= digitsFrom && (code > 0x7f || DIGIT[code]! < 0)) return -1;
    crc = CRC_TABLE[(crc ^ code) & 0xff]! ^ (crc >>> 8);
  }
  return (crc ^ -1) >>> 0;
}

/** Mints a new token string: `<prefix>_<tag><secret><checksum>`, all after `_` in base62. */
export function generateToken(prefix: string, tag: string): string {
  const unchecked = `${prefix}_${tag}${randomBase62(SECRET_LENGTH)}`;
  return unchecked + base62Fixed(crc32Ascii(unchecked, unchecked.length), CHECKSUM_LENGTH);
}

/**
 * The routing tag of a candidate token, after checking its shape and checksum with no I/O:
 * null for anything that is not a well-formed token of this prefix. The hot path of every
 * verification, and of every malformed token: one pass over the characters, no allocation
 * but the tag.
 */
export function tokenTag(key: unknown, prefix: string): string | null {
  const start = prefix.length + 1;
  if (typeof key !== 'string' || key.length !== start + BODY_LENGTH) return null;
  if (key.charCodeAt(prefix.length) !== 0x5f || !key.startsWith(prefix)) return null;
  const end = key.length - CHECKSUM_LENGTH;
  const crc = crc32Ascii(key, end, start);
  if (crc === -1) return null;
  // The checksum is public (anyone can compute it), so a plain comparison leaks nothing.
  let stated = 0;
  for (let i = end; i < key.length; i++) {
    const code = key.charCodeAt(i);
    const digit = code > 0x7f ? -1 : DIGIT[code]!;
    if (digit < 0) return null;
    stated = stated * 62 + digit;
  }
  if (stated !== crc) return null;
  return key.slice(start, start + TAG_LENGTH);
}

/**
 * Checks a candidate token's shape and checksum, with no I/O. Returns null for anything that
 * is not a well-formed token of this prefix.
 */
export function parseToken(key: unknown, prefix: string): ParsedToken | null {
  const tag = tokenTag(key, prefix);
  return tag === null ? null : { key: key as string, tag };
}

/** Whether `value` has the shape of a token id, as {@link tokenId} makes them. */
export function isTokenId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

/**
 * The fingerprint of a pepper (null: no pepper, plain SHA-256): 24 bits of an HMAC keyed by
 * it, base64url. It starts every token id made under that pepper, which lets the scripts tell
 * the records of a listed pepper from those of one that was dropped. It reveals nothing usable
 * about the pepper.
 */
export function pepperFingerprint(secret: Buffer | null): string {
  return createHmac('sha256', secret ?? Buffer.alloc(0)).update('passport-redis-multi-token pepper').digest().subarray(0, 3).toString('base64url');
}

// The fingerprint of no pepper, computed once: the verification of a plain token uses it.
const PLAIN_FINGERPRINT = pepperFingerprint(null);

/** The id of a token under each listed pepper (`fingerprints[i]` is that of `secrets[i]`): one of them names its record. */
export function tokenIds(key: string, secrets: readonly (Buffer | null)[], fingerprints: readonly string[]): string[] {
  return secrets.map((secret, i) => tokenId(key, secret, fingerprints[i]));
}

/**
 * The public id of a token under one pepper: the pepper's fingerprint, then the first 108 bits
 * of the token's SHA-256 (or HMAC-SHA-256) digest, base64url. It names the token's record; it
 * cannot be turned back into the token, so showing or logging it grants nothing.
 */
export function tokenId(key: string, secret: Buffer | null, fingerprint?: string): string {
  // The hot path of verification. crypto.hash is the one-shot form, well over twice as fast as
  // createHash for short input; 18 base64url digits are exactly 108 bits, so no bits to trim.
  if (secret !== null) return (fingerprint ?? pepperFingerprint(secret)) + createHmac('sha256', secret).update(key).digest('base64url').slice(0, DIGEST_CHARS);
  return PLAIN_FINGERPRINT + hash('sha256', key, 'base64url').slice(0, DIGEST_CHARS);
}
