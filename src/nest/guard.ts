import { STATUS_CODES } from 'node:http';
import { HttpException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard, type IAuthGuard, type IAuthModuleOptions, type Type } from '@nestjs/passport';
import type { BearerRequest } from '../bearer.js';
import { REQUIRED_SCOPES } from './scopes.js';

const reflector = new Reflector();
const guards = new Map<string, Type<IAuthGuard>>();

interface HeaderTarget {
  // FastifyReply, and Express's response as an alias of `set`.
  header?: (name: string, value: string) => unknown;
  setHeader?: (name: string, value: string) => unknown;
}

function setChallenge(response: HeaderTarget, challenge: string): void {
  if (typeof response.header === 'function') response.header('WWW-Authenticate', challenge);
  else if (typeof response.setHeader === 'function') response.setHeader('WWW-Authenticate', challenge);
}

function createGuard(name: string): Type<IAuthGuard> {
  class MultiTokenGuard extends AuthGuard(name) {
    override getAuthenticateOptions(context: ExecutionContext): IAuthModuleOptions | undefined {
      const scope = reflector.getAllAndOverride<string[] | undefined>(REQUIRED_SCOPES, [context.getHandler(), context.getClass()]);
      return scope === undefined ? undefined : { scope };
    }

    // Generic only because AuthGuard's own signature is; the user is whatever the strategy gave.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
    override handleRequest<TUser>(err: unknown, user: unknown, _info: unknown, context: ExecutionContext): TUser {
      // A store error goes on as it is: its statusCode makes Nest answer 503, and an app's own
      // exception filter can still catch MultiTokenStoreError.
      if (err !== null && err !== undefined) throw err instanceof Error ? err : new Error('authentication failed', { cause: err });
      if (user !== false && user !== null && user !== undefined) return user as TUser;
      const http = context.switchToHttp();
      const refusal = http.getRequest<BearerRequest>().bearerChallenge;
      if (refusal === undefined) throw new UnauthorizedException();
      setChallenge(http.getResponse<HeaderTarget>(), refusal.challenge);
      throw new HttpException(STATUS_CODES[refusal.status] ?? 'Unauthorized', refusal.status);
    }
  }
  return MultiTokenGuard;
}

/**
 * The Nest guard class for the strategy registered under `name` (default
 * `'redis-multi-token'`): it answers 400, 401 and 403 with their status and `WWW-Authenticate`
 * challenge, applies {@link RequireScopes}, and lets a store error through (503). It works on
 * `@nestjs/platform-express` and `@nestjs/platform-fastify`. The same name gives the same class.
 *
 * @example
 * ```ts
 * @Get('me')
 * @UseGuards(RedisMultiTokenGuard())
 * me(@Req() req: Request) { return req.user; }
 * ```
 */
export function RedisMultiTokenGuard(name: string = 'redis-multi-token'): Type<IAuthGuard> {
  let guard = guards.get(name);
  if (guard === undefined) {
    guard = createGuard(name);
    guards.set(name, guard);
  }
  return guard;
}
