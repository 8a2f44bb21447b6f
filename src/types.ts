import type { MultiTokenStoreError } from './errors.js';

// The public types of the repository: what a token is as the package hands it out, what the
// calls take, and the events. Types only; nothing here runs.

/** What the package keeps about one token. It never holds the token itself. */
export interface TokenInfo {
  /** Public id of the token: safe to show, log and pass to `expireTokenById`. */
  id: string;
  /** Id of the user the token belongs to. */
  userId: string;
  /** Label of the device, or null. */
  device: string | null;
  /** Scopes granted; `['*']` grants every scope. */
  scopes: string[];
  /** Small string map stored with the token. */
  meta: Record<string, string>;
  /** When the token was issued, on the Redis server's clock. */
  createdAt: Date;
  /** End of the token's absolute lifetime, or null for none. */
  expiresAt: Date | null;
  /** Last recorded use, to within `touchInterval`; the creation time until first use. */
  lastUsedAt: Date;
}

/** A token as {@link MultiTokenRepository.createToken} returns it: the only time `key` is seen. */
export interface IssuedToken<User> extends TokenInfo {
  /** The bearer token to hand to the client. It is not stored anywhere. */
  key: string;
  /** The user the token was issued to. */
  user: User;
}

/** An entry of {@link MultiTokenRepository.listTokens}. */
export interface ListedToken extends TokenInfo {
  /** True for the token passed as `current`. */
  current: boolean;
}

/** Options of {@link MultiTokenRepository.createToken}. */
export interface CreateTokenOptions {
  /** Label of the device, such as a User-Agent. Control characters become spaces; cut to 256 characters. */
  device?: string | null;
  /** Lifetime in seconds of this token, or null for none. Default: the repository's `ttl`. */
  ttl?: number | null;
  /** Scopes granted to this token. Default `['*']` (all). */
  scopes?: readonly string[];
  /** Up to 16 string pairs stored with the token (keys up to 64, values up to 256 characters). */
  meta?: Record<string, string>;
}

/**
 * What `expireToken` and `expireOtherTokens` take: a token string, or token info that the
 * package produced (`req.authInfo`, the token from `createToken`, an entry of `listTokens`).
 */
export type TokenReference = string | TokenInfo;

/**
 * What Passport types `req.authInfo` as. Accepted so `expireToken(req.authInfo)` compiles;
 * anything but a token string or token info the package produced is refused with a TypeError
 * at run time.
 */
export interface AuthInfoLike {
  readonly id?: unknown;
  readonly userId?: unknown;
}

/** Why tokens were removed; `reuse`: a rotated-away token was used after its grace. */
export type ExpireReason = 'logout' | 'logout-all' | 'logout-others' | 'evicted' | 'revoked' | 'reuse';

/** Options of {@link MultiTokenRepository.rotateToken}. */
export interface RotateTokenOptions {
  /** Seconds the old token keeps working, for requests already in flight. 0: none. Default 30. */
  grace?: number;
  /** Lifetime in seconds of the new token, or null for none. Default: the repository's `ttl`. */
  ttl?: number | null;
}

/** Payload of the `created` event. */
export interface TokenCreatedEvent {
  id: string;
  userId: string;
  device: string | null;
  first: boolean;
}

/** Payload of the `expired` event. */
export interface TokenExpiredEvent {
  reason: ExpireReason;
  /** The owner of the tokens. */
  userId: string;
  ids: string[];
}

/** Payload of the `touchFailed` event: a verification succeeded, but recording its use did not. */
export interface TokenTouchFailedEvent {
  id: string;
  userId: string;
  /** Why the write failed; it never holds the token. */
  error: MultiTokenStoreError;
}

/** Payload of the `rotated` event: a token was swapped for a new one of the same family. */
export interface TokenRotatedEvent {
  userId: string;
  /** The token rotated away; it works until its grace ends. */
  oldId: string;
  /** The token that replaces it. */
  newId: string;
  /** The family: the id of the token first issued at the login the two descend from. */
  family: string;
}

/**
 * Payload of the `reuseDetected` event: a rotated-away token was used after its grace, so the
 * token may have been stolen, and its whole family was revoked.
 */
export interface TokenReuseDetectedEvent {
  userId: string;
  /** The family revoked: the id of the token first issued at its login (its `created` event). */
  family: string;
  /** The rotated-away token that was used. */
  id: string;
}

/** The events a repository emits, for audit logs and metrics. */
export type MultiTokenEvents = {
  created: [TokenCreatedEvent];
  expired: [TokenExpiredEvent];
  touchFailed: [TokenTouchFailedEvent];
  rotated: [TokenRotatedEvent];
  reuseDetected: [TokenReuseDetectedEvent];
};

/** The result of a successful {@link MultiTokenRepository.authenticate}. */
export interface AuthenticatedToken<User> {
  user: User;
  token: TokenInfo;
}

/** The part of a repository that {@link RedisMultiTokenStrategy} needs. */
export interface TokenAuthenticator<User> {
  /** The user and token info of a live token, or null. Never throws for a bad token. */
  authenticate(key: string): Promise<AuthenticatedToken<User> | null>;
  /** Whether `key` has the shape and checksum of a token of this repository; no I/O. */
  isWellFormed(key: string): boolean;
}
