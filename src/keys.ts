// Redis key layout. Every key of one user carries the same `{tag}`, so a user's keys share one
// cluster slot and each user operation runs as one atomic script.

/** Builds the Redis keys for one key prefix. */
export interface KeySpace {
  /** The HASH of one token: `<prefix>{<tag>}:t:<id>`. */
  tokenKey(tag: string, id: string): string;
  /** What every token key of this tag starts with; scripts append the id. */
  tokenKeyPrefix(tag: string): string;
  /** The sorted set of one user's token ids, scored by end of life: `<prefix>{<tag>}:u:<userId>`. */
  indexKey(tag: string, userId: string): string;
  /** What every index key of this tag starts with; scripts append the user id. */
  indexKeyPrefix(tag: string): string;
}

/** Whether `prefix` can start every key: any string without a brace, which would move the hash tag. */
export function isValidKeyPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && !/[{}]/.test(prefix);
}

/** The key builders for `prefix`. */
export function keySpace(prefix: string): KeySpace {
  return {
    tokenKey: (tag, id) => `${prefix}{${tag}}:t:${id}`,
    tokenKeyPrefix: (tag) => `${prefix}{${tag}}:t:`,
    indexKey: (tag, userId) => `${prefix}{${tag}}:u:${userId}`,
    indexKeyPrefix: (tag) => `${prefix}{${tag}}:u:`,
  };
}
