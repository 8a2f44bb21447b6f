// A NestJS 11 app as the README sets it up, on either platform: the strategy through
// @nestjs/passport's PassportStrategy (one without validate(), one with), and the package's
// guard and scope decorator. The app is built per spec file, on that file's repository.
//
// tsx (esbuild) honours experimentalDecorators but does not emit decorator metadata, so every
// constructor parameter names its provider with @Inject.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Controller, Get, HttpCode, Inject, Injectable, Module, Post, Req, UseGuards, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PassportStrategy } from '@nestjs/passport';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { MultiTokenRepository, RedisMultiTokenStrategy, type TokenInfo } from '../../src/index.js';
import { RedisMultiTokenGuard, RequireScopes } from '../../src/nest/index.js';
import type { EdgeCase } from './edge-suite.js';
import { call, type RunningApp } from './http.js';
import { ada, linus, type User } from './users.js';

const TOKENS = Symbol('tokens');

/** What the routes read: Express's request and Fastify's alike carry these. */
interface AuthenticatedRequest {
  user?: unknown;
  authInfo?: TokenInfo;
}

@Injectable()
class TokenStrategy extends PassportStrategy(RedisMultiTokenStrategy) {
  constructor(@Inject(TOKENS) tokens: MultiTokenRepository<User>) {
    super({ repository: tokens });
  }
}

@Injectable()
class DeviceStrategy extends PassportStrategy(RedisMultiTokenStrategy, 'with-device') {
  constructor(@Inject(TOKENS) tokens: MultiTokenRepository<User>) {
    super({ repository: tokens });
  }

  override validate(user: User, token: TokenInfo): (User & { device: string | null }) | false {
    return user.name === 'linus' ? false : { ...user, device: token.device };
  }
}

@Injectable()
class RequestStrategy extends PassportStrategy(RedisMultiTokenStrategy, 'with-request') {
  constructor(@Inject(TOKENS) tokens: MultiTokenRepository<User>) {
    super({ repository: tokens, passReqToCallback: true });
  }
}

@Controller()
class TokenController {
  constructor(@Inject(TOKENS) private readonly tokens: MultiTokenRepository<User>) {}

  @Get('me')
  @UseGuards(RedisMultiTokenGuard())
  me(@Req() req: AuthenticatedRequest): unknown {
    return { user: req.user, token: req.authInfo };
  }

  @Get('admin')
  @UseGuards(RedisMultiTokenGuard())
  @RequireScopes('admin')
  admin(@Req() req: AuthenticatedRequest): unknown {
    return { user: req.user, token: req.authInfo };
  }

  @Post('logout')
  @HttpCode(204)
  @UseGuards(RedisMultiTokenGuard())
  async logout(@Req() req: AuthenticatedRequest): Promise<void> {
    await this.tokens.expireToken(req.authInfo);
  }

  @Get('with-request')
  @UseGuards(RedisMultiTokenGuard('with-request'))
  withRequest(@Req() req: AuthenticatedRequest): unknown {
    return { user: req.user };
  }

  @Get('device')
  @UseGuards(RedisMultiTokenGuard('with-device'))
  device(@Req() req: AuthenticatedRequest): unknown {
    return { user: req.user };
  }
}

function appModule(tokens: MultiTokenRepository<User>): new () => object {
  @Module({
    controllers: [TokenController],
    providers: [{ provide: TOKENS, useValue: tokens }, TokenStrategy, DeviceStrategy, RequestStrategy],
  })
  class AppModule {}
  return AppModule;
}

/** Starts the app on `platform`, on a free loopback port. */
export async function startNest(tokens: MultiTokenRepository<User>, platform: 'express' | 'fastify'): Promise<RunningApp> {
  const module = appModule(tokens);
  // The logger would print the expected store errors of the Redis-down check. Nest types its
  // options as a class but documents and reads them as a plain object.
  /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment */
  const app: INestApplication =
    platform === 'express'
      ? await NestFactory.create(module, { logger: false })
      : await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** The checks of PassportStrategy with validate(), on either platform. */
export const validateCases: readonly EdgeCase[] = [
  [
    'keeps the user of a strategy with passReqToCallback and no validate()',
    async ({ url, tokens }) => {
      const { token } = await tokens.createToken(ada);
      const res = await call(`${url}/with-request`, { token: token.key });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { user: ada });
    },
  ],
  [
    "wires a strategy's validate() in: it may replace the user",
    async ({ url, tokens }) => {
      const { token } = await tokens.createToken(ada, { device: 'phone' });
      const res = await call(`${url}/device`, { token: token.key });
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { user: { ...ada, device: 'phone' } });
    },
  ],
  [
    "wires a strategy's validate() in: false refuses with 401 invalid_token",
    async ({ url, tokens }) => {
      const { token } = await tokens.createToken(linus);
      const res = await call(`${url}/device`, { token: token.key });
      assert.equal(res.status, 401);
      assert.equal(res.challenge, 'Bearer realm="Users", error="invalid_token"');
    },
  ],
];
