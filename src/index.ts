export { MultiToken, DefaultMultiTokenRepository } from './default.js';
export { MultiTokenError, MultiTokenStoreError } from './errors.js';
export { MultiTokenRepository } from './repository.js';
export { RedisMultiTokenStrategy } from './strategy.js';

export type { MultiTokenErrorCode } from './errors.js';
export type { RedisClientLike, RedisScriptOptions } from './redis.js';
export type {
  AuthenticatedToken,
  AuthInfoLike,
  CreateTokenOptions,
  DefaultUser,
  ExpireReason,
  IssuedToken,
  ListedToken,
  MultiTokenEvents,
  MultiTokenRepositoryOptions,
  TokenAuthenticator,
  TokenCreatedEvent,
  TokenExpiredEvent,
  TokenInfo,
  TokenReference,
} from './repository.js';
export type {
  BearerChallenge,
  BearerRequest,
  RedisMultiTokenAuthenticateOptions,
  RedisMultiTokenStrategyOptions,
  TokenSource,
  VerifyDone,
  VerifyFunction,
  VerifyFunctionWithRequest,
} from './strategy.js';
