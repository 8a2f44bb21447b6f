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
