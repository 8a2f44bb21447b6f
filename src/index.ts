export { MultiToken, DefaultMultiTokenRepository } from './default.js';
export { MultiTokenError, MultiTokenStoreError } from './errors.js';
export { MultiTokenRepository } from './repository.js';
export { RedisMultiTokenStrategy } from './strategy.js';

export type { MultiTokenErrorCode } from './errors.js';
export type { IoRedisClientLike, RedisClientLike, RedisScriptOptions } from './client.js';
export type { DefaultUser, MultiTokenRepositoryOptions } from './options.js';
export type {
  AuthenticatedToken,
  AuthInfoLike,
  CreateTokenOptions,
  ExpireReason,
  IssuedToken,
  ListedToken,
  MultiTokenEvents,
  RotateTokenOptions,
  TokenAuthenticator,
  TokenCreatedEvent,
  TokenExpiredEvent,
  TokenInfo,
  TokenReference,
  TokenReuseDetectedEvent,
  TokenRotatedEvent,
  TokenTouchFailedEvent,
} from './types.js';
export type { BearerChallenge, BearerError, BearerRequest, TokenSource } from './bearer.js';
export type {
  RedisMultiTokenAuthenticateOptions,
  RedisMultiTokenStrategyOptions,
  VerifyDone,
  VerifyFunction,
  VerifyFunctionWithRequest,
} from './strategy.js';
