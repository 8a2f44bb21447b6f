import passportStrategy from 'passport-strategy';
import { MultiToken } from './default.js';
import { readScopes } from './scope.js';
import { bearerChallenge, extractToken, TOKEN_SOURCES, type BearerError, type BearerRequest, type TokenRecogniser, type TokenSource } from './bearer.js';
import { withoutSession } from './session.js';
import { MultiTokenRepository } from './repository.js';
import type { AuthenticatedToken, TokenAuthenticator, TokenInfo } from './types.js';
import { verifyIntoOf, type VerifyInto, type VerifyReceiver } from './verify.js';

/** The `done` callback of a callback-style `verify`: `done(err)`, `done(null, false)` or `done(null, user, info?)`. */
export type VerifyDone = (err: unknown, user?: unknown, info?: unknown) => void;

/**
 * An app's extra check after the token is known good: give back the user (or a replacement),
 * or false to refuse with `invalid_token`. Callback style `(user, token, done)`, or async
 * `(user, token)` returning the user or false.
 */
export type VerifyFunction<User> = (user: User, token: TokenInfo, done: VerifyDone) => unknown;

/** A {@link VerifyFunction} that takes the request first, for `passReqToCallback: true`. */
export type VerifyFunctionWithRequest<User> = (
  req: BearerRequest,
  user: User,
  token: TokenInfo,
  done: VerifyDone,
) => unknown;

/** Options of {@link RedisMultiTokenStrategy}. Every one is optional. */
export interface RedisMultiTokenStrategyOptions<User = unknown> {
  /** Where tokens come from. Default `MultiToken`. */
  repository?: TokenAuthenticator<User>;
  /** The name passed to `passport.authenticate`. Default `'redis-multi-token'`. */
  name?: string;
  /** The realm in every challenge. Default `'Users'`. */
  realm?: string;
  /** Scopes advertised in the challenge. Default none. */
  scope?: string | readonly string[];
  /** Where to look for a token. Default `['header']`; `'body'` and `'query'` must be asked for. */
  tokenFrom?: readonly TokenSource[];
  /** Pass the request as the first argument of `verify`. Default false. */
  passReqToCallback?: boolean;
}

/** Per-route options, from `passport.authenticate('redis-multi-token', { scope })`. */
export interface RedisMultiTokenAuthenticateOptions {
  /** Scopes the route demands; a token missing one gets 403 `insufficient_scope`. */
  scope?: string | readonly string[];
  /** Passport's session flag; left unset, a bearer token starts no session. */
  session?: boolean;
}

interface PassportActions {
  /** Injected by Passport: the request is authenticated as `user`, with `info` as `req.authInfo`. */
  success: (this: unknown, user: unknown, info?: unknown) => void;
  /** Injected by Passport: the request is refused with this challenge and status. */
  fail: (this: unknown, challenge?: unknown, status?: number) => void;
  /** Injected by Passport: authentication could not be done; `err` goes to `next(err)`. */
  error: (this: unknown, err: unknown) => void;
}

/** The base class: passport-strategy's `Strategy`, typed here so no consumer needs its types. */
const PassportStrategy = passportStrategy.Strategy as unknown as new () => PassportActions;

const NO_SCOPES: readonly string[] = [];

// The repository's own `authenticate`: a repository that still has it verifies straight into
// the request's answer.
// eslint-disable-next-line @typescript-eslint/unbound-method -- compared, never called
const PACKAGE_AUTHENTICATE = MultiTokenRepository.prototype.authenticate;

/** A refusal: its status and its `WWW-Authenticate` challenge. */
interface Refusal {
  status: 400 | 401 | 403;
  challenge: string;
}

/** What the strategy's options decide for every request, built once. */
interface Rules<User> {
  verify: VerifyFunction<User> | VerifyFunctionWithRequest<User> | undefined;
  passReqToCallback: boolean;
  // The answers that do not depend on the request: rejecting a malformed token is the hot
  // path of an attack and should cost next to nothing.
  malformed: Refusal;
  missing: Refusal;
  invalid: Refusal;
  challenge(error?: BearerError, scope?: readonly string[]): string;
  repository: TokenAuthenticator<User>;
  /** The repository's verification into a receiver, when it is the package's own. */
  into: VerifyInto<User> | undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

// Surfaces an error thrown by Passport's or the app's handlers as an uncaught exception.
function rethrow(err: unknown): never {
  throw err;
}

/**
 * One request's way to its answer. It keeps the actions Passport attached when the request
 * started: when a route passes a strategy instance instead of a name, Passport attaches them
 * to the instance itself, and a later request would replace them. It is also the receiver of
 * the request's verification, so a verification costs no promise of the strategy's own.
 */
class BearerAnswer<User> implements VerifyReceiver<User>, TokenRecogniser {
  /** The token the repository was asked about while it was read from the request, and its verdict. */
  checked: string | undefined = undefined;
  wellFormed = false;
  private readonly rules: Rules<User>;
  private readonly req: BearerRequest;
  private readonly options: RedisMultiTokenAuthenticateOptions | undefined;
  private readonly required: readonly string[];
  private readonly self: PassportActions;
  private readonly success: PassportActions['success'];
  private readonly fail: PassportActions['fail'];
  private readonly error: PassportActions['error'];

  constructor(rules: Rules<User>, req: BearerRequest, options: RedisMultiTokenAuthenticateOptions | undefined, required: readonly string[], self: PassportActions) {
    this.rules = rules;
    this.req = req;
    this.options = options;
    this.required = required;
    this.self = self;
    this.success = self.success;
    this.fail = self.fail;
    this.error = self.error;
  }

  recognise(candidate: string): boolean {
    this.checked = candidate;
    this.wellFormed = this.rules.repository.isWellFormed(candidate);
    return this.wellFormed;
  }

  verified(found: AuthenticatedToken<User> | null): void {
    // Only Passport's or the app's own handlers can throw here; surface that as they would
    // have synchronously, instead of reporting a second outcome for the same request.
    try {
      if (found === null) this.refuse(this.rules.invalid);
      else this.conclude(found);
    } catch (err) {
      process.nextTick(rethrow, err);
    }
  }

  failed(err: unknown): void {
    // Called from promise handlers too: a throw from Passport's or the app's error path is
    // surfaced as it would be synchronously, never left as an unhandled rejection.
    try {
      this.error.call(this.self, err);
    } catch (thrown) {
      process.nextTick(rethrow, thrown);
    }
  }

  /** Judges a live token against the route's scopes and the app's `verify`, and answers. */
  private conclude(found: AuthenticatedToken<User>): void {
    const { token } = found;
    const { required, rules } = this;
    const granted = token.scopes;
    if (required.length > 0 && !granted.includes('*') && required.some((scope) => !granted.includes(scope))) {
      return this.refuse({ status: 403, challenge: rules.challenge('insufficient_scope', required) });
    }
    if (rules.verify === undefined) return this.accept(found.user, token);
    runVerify(rules, this.req, found.user, token).then(
      ({ user, info }) => {
        try {
          if (user === false || user === null || user === undefined) this.refuse(rules.invalid);
          else this.accept(user, info ?? token);
        } catch (err) {
          process.nextTick(rethrow, err);
        }
      },
      (err: unknown) => this.failed(err),
    );
  }

  /** Refuses the request with `refusal`'s status and challenge. */
  refuse(refusal: Refusal): void {
    // Passport sets WWW-Authenticate only on a 401 and only without a custom callback (Nest
    // always passes one), so the strategy sets it on every refusal it can reach the response
    // of, and leaves it on the request for the helpers that can reach the response later.
    const req = this.req;
    req.bearerChallenge = refusal;
    const res = req.res;
    if (res !== undefined && res.headersSent !== true) res.setHeader('WWW-Authenticate', refusal.challenge);
    this.fail.call(this.self, refusal.challenge, refusal.status);
  }

  private accept(user: unknown, info: unknown): void {
    const req = this.req;
    if (req.bearerChallenge !== undefined) req.bearerChallenge = undefined;
    // A bearer token authenticates one request: no login session unless the route asks for one.
    if (this.options?.session === undefined) withoutSession(req, () => this.success.call(this.self, user, info));
    else this.success.call(this.self, user, info);
  }
}

/**
 * The Passport strategy for tokens of a {@link MultiTokenRepository}: RFC 6750 bearer tokens,
 * with the status codes and challenges of the RFC, and 503 (never 401) when Redis fails.
 *
 * @example
 * ```ts
 * passport.use(new RedisMultiTokenStrategy());
 * app.get('/me', passport.authenticate('redis-multi-token'), (req, res) => res.json(req.user));
 * ```
 */
export class RedisMultiTokenStrategy<User = unknown> extends PassportStrategy {
  /** The strategy name Passport registers. */
  name: string;
  /** The repository tokens are checked against. */
  readonly repository: TokenAuthenticator<User>;
  /** The realm of every challenge. */
  readonly realm: string;
  /** Scopes advertised in every challenge. */
  readonly scope: readonly string[];
  /** Where tokens are read from. */
  readonly tokenFrom: readonly TokenSource[];
  private readonly rules: Rules<User>;

  constructor(verify?: VerifyFunction<User>);
  constructor(options: RedisMultiTokenStrategyOptions<User> & { passReqToCallback?: false }, verify?: VerifyFunction<User>);
  constructor(options: RedisMultiTokenStrategyOptions<User> & { passReqToCallback: true }, verify: VerifyFunctionWithRequest<User>);
  constructor(
    options?: RedisMultiTokenStrategyOptions<User> | VerifyFunction<User>,
    verify?: VerifyFunction<User> | VerifyFunctionWithRequest<User>,
  ) {
    super();
    if (typeof options === 'function') {
      verify = options;
      options = {};
    }
    const o = options ?? {};
    if (typeof o !== 'object') throw new TypeError('RedisMultiTokenStrategy options must be an object');
    if (verify !== undefined && typeof verify !== 'function') throw new TypeError('verify must be a function');
    const repository = o.repository ?? (MultiToken as TokenAuthenticator<unknown> as TokenAuthenticator<User>);
    if (typeof repository?.authenticate !== 'function' || typeof repository.isWellFormed !== 'function') {
      throw new TypeError('repository must be a MultiTokenRepository');
    }
    const name = o.name ?? 'redis-multi-token';
    if (typeof name !== 'string' || name === '') throw new TypeError('name must be a non-empty string');
    const realm = o.realm ?? 'Users';
    // A header value must be visible ASCII; anything else would make Node's setHeader throw.
    if (typeof realm !== 'string' || !/^[\x20-\x7E]*$/.test(realm)) {
      throw new TypeError('realm must be a string of printable ASCII characters');
    }
    const tokenFrom = o.tokenFrom ?? ['header'];
    if (!Array.isArray(tokenFrom) || tokenFrom.length === 0 || (tokenFrom as unknown[]).some((source) => !TOKEN_SOURCES.includes(source as TokenSource))) {
      throw new TypeError("tokenFrom must be a non-empty list of 'header', 'body' and 'query'");
    }
    this.name = name;
    this.repository = repository;
    this.realm = realm;
    this.scope = o.scope === undefined ? [] : readScopes('scope', o.scope);
    this.tokenFrom = [...new Set(tokenFrom)];
    const challenge = (error?: BearerError, scope?: readonly string[]): string => bearerChallenge(realm, scope ?? this.scope, error);
    this.rules = {
      verify,
      passReqToCallback: o.passReqToCallback === true,
      malformed: { status: 400, challenge: challenge('invalid_request') },
      missing: { status: 401, challenge: challenge() },
      invalid: { status: 401, challenge: challenge('invalid_token') },
      challenge,
      repository,
      into: verifyIntoOf<User>(repository),
    };
  }

  /** Builds a `WWW-Authenticate: Bearer` challenge with quoted, escaped values. */
  challenge(error?: BearerError, scope?: readonly string[]): string {
    return bearerChallenge(this.realm, scope ?? this.scope, error);
  }

  /**
   * What `@nestjs/passport`'s `PassportStrategy` mixin wires in as `verify`: a Nest strategy
   * overrides it to replace the user or refuse the token (return `false`). It is called as
   * `verify` is, `(user, token)` or, with `passReqToCallback`, `(req, user, token)`. This default
   * keeps the user, so a Nest strategy without `validate()` works. Nothing else calls it.
   *
   * @example
   * ```ts
   * class ActiveUserStrategy extends PassportStrategy(RedisMultiTokenStrategy, 'active-user') {
   *   override validate(user: User) { return user.active ? user : false; }
   * }
   * ```
   */
  validate(...args: unknown[]): unknown {
    return this.rules.passReqToCallback ? args[1] : args[0];
  }

  /** Called by Passport for each request; reports through `success`, `fail` or `error`. */
  authenticate(req: BearerRequest, options?: RedisMultiTokenAuthenticateOptions): void {
    // `this` is a per-request `Object.create(strategy)`, hence no #private fields here.
    const { rules, repository } = this;
    let answer: BearerAnswer<User>;
    let key = '';
    // An answer at once for a missing or malformed token, after one lookup otherwise.
    let refusal: Refusal | undefined;
    try {
      const required = options?.scope === undefined ? NO_SCOPES : readScopes('scope', options.scope);
      answer = new BearerAnswer(rules, req, options, required, this);
      const found = extractToken(req, this.tokenFrom, answer);
      if (found.kind === 'malformed') refusal = rules.malformed;
      else if (found.kind === 'none') refusal = rules.missing;
      // Checked once: the answer remembers what the repository said while the token was read,
      // so a bad checksum (the hot path of an attack) is computed once too.
      else if (!(found.token === answer.checked ? answer.wellFormed : repository.isWellFormed(found.token))) refusal = rules.invalid;
      else key = found.token;
    } catch (err) {
      this.error(err);
      return;
    }
    if (refusal !== undefined) return answer.refuse(refusal);
    // The package's own repository verifies straight into the answer; any other (an app's
    // authenticator, or a subclass that overrides `authenticate`) is called as documented.
    const { into } = rules;
    let pending: unknown;
    try {
      if (into !== undefined && repository.authenticate === PACKAGE_AUTHENTICATE) return into(key, answer);
      pending = repository.authenticate(key);
    } catch (err) {
      // Thrown before any answer: the answer itself never throws (it rethrows on the next tick).
      answer.failed(err);
      return;
    }
    // An authenticator of the app's own may answer with a plain value.
    const settled = isThenable(pending) ? pending : Promise.resolve(pending);
    settled.then(
      (found) => answer.verified(found as AuthenticatedToken<User> | null),
      (err: unknown) => answer.failed(err),
    );
  }
}

/** Runs the app's `verify`, whichever way it answers: through `done`, or by returning. */
function runVerify<User>(rules: Rules<User>, req: BearerRequest, user: User, token: TokenInfo): Promise<{ user: unknown; info: unknown }> {
  const verify = rules.verify as (...args: unknown[]) => unknown;
  const args: unknown[] = rules.passReqToCallback ? [req, user, token] : [user, token];
  // A verify that names `done` answers through it; one that does not answers by returning
  // (a value or a promise). The NestJS mixin's wrapper names no parameter and calls `done`.
  const callbackStyle = verify.length > args.length;
  return new Promise((resolve, reject) => {
    let settled = false;
    const done: VerifyDone = (err, verified, info) => {
      if (settled) return;
      settled = true;
      if (err) reject(err instanceof Error ? err : new Error('verify failed', { cause: err }));
      else resolve({ user: verified, info });
    };
    const returned = verify(...args, done);
    if (isThenable(returned)) {
      returned.then(
        // A callback-style verify whose promise settles without calling `done` refuses.
        (value) => done(null, callbackStyle ? false : value),
        (err: unknown) => done(err ?? new Error('verify rejected')),
      );
    } else if (!callbackStyle) {
      done(null, returned);
    }
  });
}
