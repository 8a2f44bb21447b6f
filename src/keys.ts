// Redis key layout (v2): one HASH per routing tag, `<prefix>{<tag>}`. Every token of the users
// whose ids map to that tag is a field of it, so every user operation is one script on one
// declared key, atomic on Redis Cluster and behind proxies that refuse undeclared keys.
import { TAG_LENGTH } from './token.js';

const TAG_PATTERN = new RegExp(`^\\{([0-9A-Za-z]{${TAG_LENGTH}})\\}$`);

/** A tag's place in a SCAN MATCH pattern: one `?` per character of a tag. */
export const ANY_TAG: string = '?'.repeat(TAG_LENGTH);

/** Whether `prefix` can start every key: any string without a brace, which would move the hash tag. */
export function isValidKeyPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && !/[{}]/.test(prefix);
}

/** The HASH that holds every token of one routing tag: `<prefix>{<tag>}`. */
export function tagKey(prefix: string, tag: string): string {
  return `${prefix}{${tag}}`;
}

/** Whether `key` has the shape of a tag key under `prefix`, and its tag; for the admin tools. */
export function tagOfKey(prefix: string, key: string): string | null {
  if (!key.startsWith(prefix)) return null;
  const match = TAG_PATTERN.exec(key.slice(prefix.length));
  return match === null ? null : match[1]!;
}

/**
 * The most fields one tag's hash holds: the create script refuses a token past it
 * (`ERR_MULTITOKEN_HASH_FULL`). With a 64-bit tag a hash is one user's in practice; the bound
 * keeps what one script sweeps small even when many users share one.
 */
export const HASH_MAX_FIELDS = 500;
