import type { IncomingHttpHeaders } from 'node:http';

// RFC 6750 on a request, with no I/O: where a bearer token is read from (§2), what makes a
// request malformed, and the challenge of a refusal (§3). The strategy decides; this reads.

/** The request fields the strategy reads: an Express request fits, as does any object with Node's `headers`. */
export interface BearerRequest {
  headers: IncomingHttpHeaders;
  /** Node's headers as received, repeats kept: Express's and Koa's request have them. */
  rawHeaders?: readonly string[] | undefined;
  /** Node's request under a Fastify request (`raw`) or koa-passport's (`req`), for its `rawHeaders`. */
  raw?: { rawHeaders?: readonly string[] | undefined } | undefined;
  req?: { rawHeaders?: readonly string[] | undefined } | undefined;
  method?: string | undefined;
  url?: string | undefined;
  body?: unknown;
  query?: unknown;
  /**
   * The response, which Express (and koa-passport's request) links here: the strategy sets the
   * challenge of every 400, 401 and 403 on it.
   */
  res?: { setHeader(name: string, value: string): unknown; readonly headersSent?: boolean | undefined } | undefined;
  /**
   * Left by the strategy on a request it refused, and cleared when it accepts one: the status and
   * the `WWW-Authenticate` challenge, for framework helpers that cannot reach the response from
   * the request (the Nest guard, the Fastify plugin).
   */
  bearerChallenge?: BearerChallenge | undefined;
}

/** What the strategy leaves in `req.bearerChallenge` when it refuses a request. */
export interface BearerChallenge {
  /** 400 (`invalid_request`), 401 (no token, or `invalid_token`) or 403 (`insufficient_scope`). */
  status: 400 | 401 | 403;
  /** The value for `WWW-Authenticate`, such as `Bearer realm="Users", error="invalid_token"`. */
  challenge: string;
}

/** Where a token may be read from (RFC 6750 §2). */
export type TokenSource = 'header' | 'body' | 'query';

/** What a request carries: no token, a malformed one (400 `invalid_request`), or one token. */
export type Outcome =
  | { kind: 'none' }
  | { kind: 'malformed' }
  | { kind: 'token'; token: string };

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const NONE: Outcome = { kind: 'none' };
const MALFORMED: Outcome = { kind: 'malformed' };
const NO_HEADERS: readonly string[] = [];

/** Every place a token may be read from, in the order they are read. */
export const TOKEN_SOURCES: readonly TokenSource[] = ['header', 'body', 'query'];

// RFC 6750 §3: values in a challenge are quoted-strings.
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function field(container: unknown, name: string): unknown {
  if (container === null || typeof container !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(container, name) ? (container as Record<string, unknown>)[name] : undefined;
}

// Node keeps the first of two Authorization headers; a proxy in front may read the last.
function repeatsAuthorization(req: BearerRequest): boolean {
  const raw = req.rawHeaders ?? req.raw?.rawHeaders ?? req.req?.rawHeaders ?? NO_HEADERS;
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 13 && name.toLowerCase() === 'authorization' && ++seen > 1) return true;
  }
  return false;
}

/**
 * Recognises a token of its own: a token it recognises is a token68 by construction, so the
 * header's usual form skips the RFC's character check for it (and the recogniser remembers it).
 */
export interface TokenRecogniser {
  recognise(candidate: string): boolean;
}

function fromHeader(req: BearerRequest, recogniser: TokenRecogniser | undefined): Outcome {
  const header = req.headers.authorization;
  if (header === undefined) return NONE;
  if (repeatsAuthorization(req)) return MALFORMED;
  // The usual form, `Bearer <token>` with one space, is read without trimming or searching.
  if (header.startsWith('Bearer ')) {
    const credentials = header.slice(7);
    if (recogniser?.recognise(credentials) === true || TOKEN68.test(credentials)) return { kind: 'token', token: credentials };
  }
  const trimmed = header.trim();
  if (trimmed === '') return MALFORMED;
  const space = trimmed.search(/\s/);
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  // Another scheme (Basic, Digest, Negotiate ...) is not ours to judge: it counts as no token.
  if (scheme.toLowerCase() !== 'bearer') return NONE;
  const credentials = space === -1 ? '' : trimmed.slice(space).trim();
  return TOKEN68.test(credentials) ? { kind: 'token', token: credentials } : MALFORMED;
}

function fromParameter(value: unknown): Outcome {
  if (value === undefined) return NONE;
  return typeof value === 'string' && value !== '' ? { kind: 'token', token: value } : MALFORMED;
}

// RFC 6750 §2.2: a body token travels only in a form-encoded body of a request that has one.
function fromBody(req: BearerRequest): Outcome {
  const type = req.headers['content-type'];
  if (req.method === 'GET' || req.method === 'HEAD') return NONE;
  if (typeof type !== 'string' || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return NONE;
  return fromParameter(field(req.body, 'access_token'));
}

function fromQuery(req: BearerRequest): Outcome {
  if (req.query !== null && typeof req.query === 'object') return fromParameter(field(req.query, 'access_token'));
  let search: URLSearchParams;
  try {
    search = new URL(req.url ?? '/', 'http://localhost').searchParams;
  } catch {
    // A target no URL parser accepts (such as `//[`) is a malformed request, never a crash.
    return MALFORMED;
  }
  const values = search.getAll('access_token');
  if (values.length === 0) return NONE;
  return values.length === 1 ? fromParameter(values[0]) : MALFORMED;
}

/**
 * The token of a request, read from `sources` (RFC 6750 §2). A token in more than one place,
 * or one that is not a token68, is malformed; another scheme in the header counts as none.
 */
export function extractToken(req: BearerRequest, sources: readonly TokenSource[], recogniser?: TokenRecogniser): Outcome {
  // The default: the header alone.
  if (sources.length === 1 && sources[0] === 'header') return fromHeader(req, recogniser);
  let token: string | undefined;
  for (const source of sources) {
    const outcome = source === 'header' ? fromHeader(req, recogniser) : source === 'body' ? fromBody(req) : fromQuery(req);
    if (outcome.kind === 'malformed') return outcome;
    if (outcome.kind === 'token') {
      // RFC 6750 §2: a client must not send a token in more than one place.
      if (token !== undefined) return MALFORMED;
      token = outcome.token;
    }
  }
  return token === undefined ? NONE : { kind: 'token', token };
}

/** The errors of a Bearer challenge (RFC 6750 §3.1). */
export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** A `WWW-Authenticate: Bearer` challenge, its values quoted and escaped (RFC 6750 §3). */
export function bearerChallenge(realm: string, scope: readonly string[], error?: BearerError): string {
  const parts = [`realm=${quote(realm)}`];
  if (scope.length > 0) parts.push(`scope=${quote(scope.join(' '))}`);
  if (error !== undefined) parts.push(`error=${quote(error)}`);
  return `Bearer ${parts.join(', ')}`;
}
