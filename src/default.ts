import { MultiTokenError } from './errors.js';
import type { DefaultUser, MultiTokenRepositoryOptions } from './options.js';
import { MultiTokenRepository } from './repository.js';

/** The repository behind `MultiToken`, whose options can be set once before first use. */
export class DefaultMultiTokenRepository<User = DefaultUser> extends MultiTokenRepository<User> {
  /**
   * Sets the options of `MultiToken`. Call it before the first token call; later it throws
   * `ERR_MULTITOKEN_CONFIGURE`, since tokens already issued depend on the options in force.
   *
   * @example
   * ```ts
   * MultiToken.configure({ redis: process.env.REDIS_URL, ttl: 7 * 86400 });
   * ```
   */
  configure(options: MultiTokenRepositoryOptions<User>): this {
    if (this.started) {
      throw new MultiTokenError('ERR_MULTITOKEN_CONFIGURE', 'MultiToken.configure() must be called before the first token call');
    }
    this.reconfigure(options);
    return this;
  }
}

/**
 * The package's default repository: `REDIS_URL` (else `redis://127.0.0.1:6379`), opened on
 * first use, with every option at its default until `MultiToken.configure()`.
 *
 * @example
 * ```ts
 * const { token, first } = await MultiToken.createToken(req.user, { device: req.get('user-agent') });
 * ```
 */
export const MultiToken: DefaultMultiTokenRepository<unknown> = new DefaultMultiTokenRepository<unknown>();
