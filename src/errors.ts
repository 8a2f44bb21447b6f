/**
 * The codes a {@link MultiTokenError} can carry.
 *
 * - `ERR_MULTITOKEN_STORE`: Redis failed, refused the call, or the repository is closed.
 * - `ERR_MULTITOKEN_TIMEOUT`: a Redis call did not answer within the `timeout` option.
 * - `ERR_MULTITOKEN_REPLY`: Redis answered with something the package cannot read.
 * - `ERR_MULTITOKEN_REPLICAS`: the master applied a creation or revocation, but fewer replicas
 *   than the `replicas` option acknowledged it within the deadline; retry the call.
 * - `ERR_MULTITOKEN_DURABILITY`: with `durable`, the write was applied but not known to be in
 *   the AOF on disk (here, and on `replicas` replicas) within the deadline; retry the call.
 * - `ERR_MULTITOKEN_UNSUPPORTED`: the server cannot do what the options ask (`durable` on a
 *   server without `WAITAOF`, or with AOF off); the write was applied. Fix the setup.
 * - `ERR_MULTITOKEN_CONFIGURE`: `MultiToken.configure()` was called after first use.
 * - `ERR_MULTITOKEN_HASH_FULL`: `createToken` found the hash of the user's routing tag at its
 *   bound (500 tokens, of every user sharing the tag); nothing was stored. With a 64-bit tag
 *   only a user with `maxTokensPerUser: null` and 500 live tokens meets it in practice.
 */
export type MultiTokenErrorCode =
  | 'ERR_MULTITOKEN_STORE'
  | 'ERR_MULTITOKEN_TIMEOUT'
  | 'ERR_MULTITOKEN_REPLY'
  | 'ERR_MULTITOKEN_REPLICAS'
  | 'ERR_MULTITOKEN_DURABILITY'
  | 'ERR_MULTITOKEN_UNSUPPORTED'
  | 'ERR_MULTITOKEN_CONFIGURE'
  | 'ERR_MULTITOKEN_HASH_FULL';

/**
 * The base class of every error the package raises on purpose, other than `TypeError` for
 * misconfiguration and bad arguments.
 *
 * @example
 * ```ts
 * if (err instanceof MultiTokenError && err.code === 'ERR_MULTITOKEN_TIMEOUT') retryLater();
 * ```
 */
export class MultiTokenError extends Error {
  override name: string = 'MultiTokenError';
  /** A stable, machine-readable code. */
  readonly code: MultiTokenErrorCode;

  constructor(code: MultiTokenErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Redis could not serve a call: it is down, slow past `timeout`, or answered something
 * unreadable. It carries `statusCode = 503`, so Express and most frameworks answer
 * 503 Service Unavailable rather than a false 401.
 *
 * @example
 * ```ts
 * app.use((err, req, res, next) => {
 *   if (err instanceof MultiTokenStoreError) res.status(err.statusCode).json({ error: 'try again' });
 *   else next(err);
 * });
 * ```
 */
export class MultiTokenStoreError extends MultiTokenError {
  override name: string = 'MultiTokenStoreError';
  declare readonly code: Exclude<MultiTokenErrorCode, 'ERR_MULTITOKEN_CONFIGURE'>;
  /** The HTTP status an error handler should answer with. */
  readonly statusCode = 503 as const;
  /** Alias of `statusCode`, read by Koa and http-errors. */
  readonly status = 503 as const;
  /** Tells Koa and http-errors that the message is not for the client. */
  readonly expose = false as const;
}
