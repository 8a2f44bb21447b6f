// Koa 3 with koa-passport and @koa/router, as the README sets it up. koa-passport links a
// response to the request it gives the strategy, so the challenges need no helper; the user
// is ctx.state.user and the token info ctx.state.authInfo.
import Router from '@koa/router';
import Koa from 'koa';
import passport from 'koa-passport';
import { RedisMultiTokenStrategy, type TokenInfo } from '../src/index.js';
import { describeEdge } from './support/edge-suite.js';
import { listen } from './support/http.js';
import type { User } from './support/users.js';

describeEdge('Koa 3 with koa-passport', {
  async start(tokens) {
    passport.use(new RedisMultiTokenStrategy({ repository: tokens }));
    const app = new Koa();
    // Koa answers a store error with its status (503) on its own; silent keeps the expected
    // errors of the Redis-down check out of the test output.
    app.silent = true;
    const router = new Router<{ user?: User; authInfo?: TokenInfo }>();
    router.get('/me', passport.authenticate('redis-multi-token'), (ctx) => {
      ctx.body = { user: ctx.state.user, token: ctx.state.authInfo };
    });
    router.get('/admin', passport.authenticate('redis-multi-token', { scope: 'admin' }), (ctx) => {
      ctx.body = { user: ctx.state.user, token: ctx.state.authInfo };
    });
    router.post('/logout', passport.authenticate('redis-multi-token'), async (ctx) => {
      await tokens.expireToken(ctx.state.authInfo);
      ctx.status = 204;
    });
    app.use(router.routes());
    return listen(app);
  },
});
