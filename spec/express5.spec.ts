// Express 5 with passport, as the README sets it up: async routes, an error handler for 503.
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { RedisMultiTokenStrategy } from '../src/index.js';
import { describeEdge } from './support/edge-suite.js';
import { listen } from './support/http.js';

describeEdge('Express 5 with passport', {
  async start(tokens) {
    passport.use(new RedisMultiTokenStrategy({ repository: tokens }));
    const app = express();
    app.get('/me', passport.authenticate('redis-multi-token'), (req, res) => {
      res.json({ user: req.user, token: req.authInfo });
    });
    app.get('/admin', passport.authenticate('redis-multi-token', { scope: 'admin' }), (req, res) => {
      res.json({ user: req.user, token: req.authInfo });
    });
    app.post('/logout', passport.authenticate('redis-multi-token'), async (req, res) => {
      await tokens.expireToken(req.authInfo);
      res.sendStatus(204);
    });
    app.use((err: Error & { statusCode?: number }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(err.statusCode ?? 500).json({ error: err.name });
    });
    return listen(app);
  },
});
