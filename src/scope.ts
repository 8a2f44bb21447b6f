// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. Shared by the scopes a token is granted
// and the scopes a route or a challenge names.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/**
 * Reads one scope or a non-empty list of them, without repeats. Anything else throws a
 * TypeError whose message starts with `name`.
 */
export function readScopes(name: string, value: unknown): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((scope) => typeof scope !== 'string' || !SCOPE_TOKEN.test(scope))) {
    throw new TypeError(`${name} must be one or more RFC 6749 scope tokens (printable ASCII, no space, quote or backslash)`);
  }
  return [...new Set(list as string[])];
}

/** The most scopes one token holds. */
export const TOKEN_SCOPES_MAX = 16;
/** The most bytes of one scope a token holds. */
export const TOKEN_SCOPE_MAX_BYTES = 64;
/** The most bytes of a token's scopes as stored, joined by spaces. */
export const TOKEN_SCOPES_MAX_BYTES = 256;

/**
 * Reads the scopes granted to a token: as {@link readScopes}, and at most 16 of at most 64
 * bytes each, 256 bytes in all joined by spaces. `'*'` (every scope) stands only alone: in a
 * list such as `['read', '*']` it would turn a request for some scopes into all of them.
 */
export function readTokenScopes(value: unknown): string[] {
  const scopes = readScopes('scopes', value);
  if (scopes.length > 1 && scopes.includes('*')) throw new TypeError("scopes: '*' (every scope) must stand alone, as ['*']");
  if (scopes.length > TOKEN_SCOPES_MAX) throw new TypeError(`scopes holds at most ${TOKEN_SCOPES_MAX} scopes`);
  // Scope tokens are printable ASCII: one byte per character.
  if (scopes.some((scope) => scope.length > TOKEN_SCOPE_MAX_BYTES)) throw new TypeError(`scopes: each scope is at most ${TOKEN_SCOPE_MAX_BYTES} bytes`);
  if (scopes.join(' ').length > TOKEN_SCOPES_MAX_BYTES) throw new TypeError(`scopes are at most ${TOKEN_SCOPES_MAX_BYTES} bytes joined by spaces`);
  return scopes;
}
