import { SetMetadata, type CustomDecorator } from '@nestjs/common';
import { readScopes } from '../scope.js';

/** The metadata key under which {@link RequireScopes} keeps the scopes of a route. */
export const REQUIRED_SCOPES = 'passport-redis-multi-token:required-scopes' as const;

/**
 * Declares the scopes a route (or every route of a controller) demands: a token missing one
 * is refused with 403 `insufficient_scope` by {@link RedisMultiTokenGuard}. A bad scope throws
 * a TypeError when the class is defined.
 *
 * @example
 * ```ts
 * @Get('admin')
 * @UseGuards(RedisMultiTokenGuard())
 * @RequireScopes('admin')
 * admin() {}
 * ```
 */
export function RequireScopes(...scopes: string[]): CustomDecorator<typeof REQUIRED_SCOPES> {
  return SetMetadata(REQUIRED_SCOPES, readScopes('RequireScopes', scopes));
}
