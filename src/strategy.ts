import passportStrategy from 'passport-strategy';
import { MultiToken } from './default.js';
import { readScopes } from './scope.js';
import { bearerChallenge, extractToken, TOKEN_SOURCES, type BearerError, type BearerRequest, type TokenSource } from './bearer.js';
import { withoutSession } from './session.js';
import type { TokenAuthenticator, TokenInfo } from './types.js';

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

interface StrategyActions {
  /** Injected by Passport: the request is authenticated as `user`, with `info` as `req.authInfo`. */
  success(user: unknown, info?: unknown): void;
  /** Injected by Passport: the request is refused with this challenge and status. */
  fail(challenge?: unknown, status?: number): void;
  /** Injected by Passport: authentication could not be done; `err` goes to `next(err)`. */
  error(err: unknown): void;
}

/** The base class: passport-strategy's `Strategy`, typed here so no consumer needs its types. */
const PassportStrategy = passportStrategy.Strategy as unknown as new () => StrategyActions;

const NO_SCOPES: readonly string[] = [];

type Verdict =
  | { kind: 'success'; user: unknown; info: unknown }
  | { kind: 'fail'; status: 400 | 401 | 403; challenge: string };

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
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
  private readonly verify: VerifyFunction<User> | VerifyFunctionWithRequest<User> | undefined;
  private readonly passReqToCallback: boolean;
  // The answers that do not depend on the request, built once: rejecting a malformed token is
  // the hot path of an attack and should cost next to nothing.
  private readonly malformed: Verdict;
  private readonly missing: Verdict;
  private readonly invalid: Verdict;

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
    this.verify = verify;
    this.passReqToCallback = o.passReqToCallback === true;
    this.malformed = { kind: 'fail', status: 400, challenge: this.challenge('invalid_request') };
    this.missing = { kind: 'fail', status: 401, challenge: this.challenge() };
    this.invalid = { kind: 'fail', status: 401, challenge: this.challenge('invalid_token') };
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
    return this.passReqToCallback ? args[1] : args[0];
  }

  /** Called by Passport for each request; reports through `success`, `fail` or `error`. */
  authenticate(req: BearerRequest, options?: RedisMultiTokenAuthenticateOptions): void {
    // `this` is a per-request `Object.create(strategy)`, hence no #private fields here.
    let verdict: Verdict | Promise<Verdict>;
    try {
      verdict = this.judge(req, options);
    } catch (err) {
      this.error(err);
      return;
    }
    if (!(verdict instanceof Promise)) return this.deliver(req, options, this, verdict);
    // When a route passes a strategy instance instead of a name, Passport attaches the actions
    // to the instance itself; taking them now keeps the later answer on its own request.
    const actions: StrategyActions = {
      success: this.success.bind(this),
      fail: this.fail.bind(this),
      error: this.error.bind(this),
    };
    verdict
      .then(
        (settled) => this.deliver(req, options, actions, settled),
        (err: unknown) => actions.error(err),
      )
      // Only Passport's or the app's own handlers can throw here; surface that as they would
      // have synchronously, instead of reporting a second outcome for the same request.
      .catch((err: unknown) => process.nextTick(() => {
        throw err;
      }));
  }

  /** Decides the outcome: at once for a missing or malformed token, after one lookup otherwise. */
  private judge(req: BearerRequest, options: RedisMultiTokenAuthenticateOptions | undefined): Verdict | Promise<Verdict> {
    const required = options?.scope === undefined ? NO_SCOPES : readScopes('scope', options.scope);
    const found = extractToken(req, this.tokenFrom);
    if (found.kind === 'malformed') return this.malformed;
    if (found.kind === 'none') return this.missing;
    if (!this.repository.isWellFormed(found.token)) return this.invalid;
    return this.check(req, found.token, required);
  }

  private deliver(
    req: BearerRequest,
    options: RedisMultiTokenAuthenticateOptions | undefined,
    actions: StrategyActions,
    verdict: Verdict,
  ): void {
    if (verdict.kind === 'fail') {
      // Passport sets WWW-Authenticate only on a 401 and only without a custom callback (Nest
      // always passes one), so the strategy sets it on every refusal it can reach the response
      // of, and leaves it on the request for the helpers that can reach the response later.
      req.bearerChallenge = { status: verdict.status, challenge: verdict.challenge };
      const res = req.res;
      if (res !== undefined && res.headersSent !== true) res.setHeader('WWW-Authenticate', verdict.challenge);
      actions.fail(verdict.challenge, verdict.status);
      return;
    }
    if (req.bearerChallenge !== undefined) req.bearerChallenge = undefined;
    // A bearer token authenticates one request: no login session unless the route asks for one.
    if (options?.session === undefined) withoutSession(req, () => actions.success(verdict.user, verdict.info));
    else actions.success(verdict.user, verdict.info);
  }

  private async check(req: BearerRequest, key: string, required: readonly string[]): Promise<Verdict> {
    const found = await this.repository.authenticate(key);
    if (found === null) return this.invalid;
    const { token } = found;
    const granted = token.scopes;
    if (!granted.includes('*') && required.some((scope) => !granted.includes(scope))) {
      return { kind: 'fail', status: 403, challenge: this.challenge('insufficient_scope', required) };
    }
    if (this.verify === undefined) return { kind: 'success', user: found.user, info: token };
    const verified = await this.runVerify(req, found.user, token);
    if (verified.user === false || verified.user === null || verified.user === undefined) return this.invalid;
    return { kind: 'success', user: verified.user, info: verified.info ?? token };
  }

  private runVerify(req: BearerRequest, user: User, token: TokenInfo): Promise<{ user: unknown; info: unknown }> {
    const verify = this.verify as (...args: unknown[]) => unknown;
    const args: unknown[] = this.passReqToCallback ? [req, user, token] : [user, token];
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
}

