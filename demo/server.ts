// A runnable demo: an Express 5 API with password login, per-device tokens, a device list,
// token rotation and the three kinds of logout, and a devices page at `/` (static files in demo/public, no build
// step) that drives it. `npm run demo` starts it on REDIS_URL, or on a throwaway redis-server
// when REDIS_URL is not set.
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MultiToken, MultiTokenStoreError, RedisMultiTokenStrategy } from '../src/index.js';
import { startRedisServer } from '../spec/support/redis-server.js';

interface DemoUser {
  id: string;
  name: string;
}

// Demo accounts; a real app checks a password hash from its own database.
const accounts = new Map<string, { user: DemoUser; password: string }>([
  ['ada', { user: { id: '1', name: 'ada' }, password: 'lovelace' }],
  ['grace', { user: { id: '2', name: 'grace' }, password: 'hopper' }],
]);
const byId = new Map([...accounts.values()].map(({ user }) => [user.id, user]));

async function main(): Promise<void> {
  let redisUrl = process.env.REDIS_URL;
  let stopRedis = async (): Promise<void> => {};
  if (redisUrl === undefined || redisUrl === '') {
    const server = await startRedisServer();
    redisUrl = server.url;
    stopRedis = () => server.stop();
    console.log(`started a throwaway redis-server at ${redisUrl}`);
  }

  // touchInterval 1: the page's "last used" column moves while you click around.
  MultiToken.configure({ redis: redisUrl, findUser: (id) => byId.get(id) ?? null, maxTokensPerUser: 5, touchInterval: 1 });
  MultiToken.on('created', ({ userId, id, device }) => console.log(`login  user=${userId} token=${id} device=${device ?? '-'}`));
  MultiToken.on('expired', ({ reason, userId, ids }) => console.log(`${reason} user=${userId ?? '?'} tokens=${ids.join(',')}`));
  MultiToken.on('rotated', ({ userId, oldId, newId }) => console.log(`rotate user=${userId} token=${oldId} -> ${newId}`));
  MultiToken.on('reuseDetected', ({ userId, family, id }) => console.log(`REUSE  user=${userId} family=${family} token=${id}: family revoked`));
  passport.use(new RedisMultiTokenStrategy());
  const authenticated = passport.authenticate('redis-multi-token') as express.RequestHandler;

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // The page keeps its token in sessionStorage, so script injection is what would steal it:
    // only the demo's own script and style may run, and nothing is cached.
    res.set({
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    });
    next();
  });
  app.use(express.static(fileURLToPath(new URL('public/', import.meta.url)), { cacheControl: false }));
  app.use(express.json());

  app.post('/login', async (req: Request, res: Response) => {
    const { username, password, device } = (req.body ?? {}) as { username?: unknown; password?: unknown; device?: unknown };
    const account = typeof username === 'string' ? accounts.get(username) : undefined;
    if (account === undefined || account.password !== password) {
      res.status(401).json({ error: 'wrong username or password' });
      return;
    }
    if (device !== undefined && typeof device !== 'string') {
      res.status(400).json({ error: 'device must be a string' });
      return;
    }
    // The label the user typed, else the browser's User-Agent.
    const typed = device?.trim() ?? '';
    const label = typed !== '' ? typed : (req.get('user-agent') ?? null);
    // createToken turns control characters into spaces and cuts the label to 256 characters.
    const { token, first } = await MultiToken.createToken(account.user, { device: label });
    res.json({ token: token.key, id: token.id, firstDevice: first });
  });
  app.get('/me', authenticated, (req, res) => {
    res.json({ user: req.user, token: req.authInfo });
  });
  app.get('/devices', authenticated, async (req, res) => {
    res.json(await MultiToken.listTokens(req.user, { current: req.authInfo }));
  });
  app.delete('/devices/:id', authenticated, async (req, res) => {
    res.sendStatus((await MultiToken.expireTokenById(req.user, String(req.params.id))) ? 204 : 404);
  });
  app.post('/logout', authenticated, async (req, res) => {
    await MultiToken.expireToken(req.authInfo);
    res.sendStatus(204);
  });
  // Rotation: the page swaps its token for a new one; the old one works 30 s more for requests
  // in flight, and used after that it revokes this device (it may have been stolen).
  app.post('/rotate', authenticated, async (req, res) => {
    const rotated = await MultiToken.rotateToken(req.authInfo);
    if (rotated === null) {
      res.status(409).json({ error: 'this token was rotated already; use the newer one' });
      return;
    }
    res.json({ token: rotated.token.key, id: rotated.token.id });
  });
  app.post('/logout-others', authenticated, async (req, res) => {
    res.json({ removed: await MultiToken.expireOtherTokens(req.user, req.authInfo) });
  });
  app.post('/logout-all', authenticated, async (req, res) => {
    res.json({ removed: await MultiToken.expireAllTokens(req.user) });
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err instanceof MultiTokenStoreError ? err.statusCode : 500).json({ error: err.name });
  });

  const port = Number(process.env.PORT ?? 3000);
  const server = app.listen(port, '127.0.0.1', () => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    console.log(`demo listening on ${base}
open ${base}/ in two browsers (or a normal and a private window) to see both devices, or try:
  curl -s -X POST ${base}/login -H 'content-type: application/json' -d '{"username":"ada","password":"lovelace"}'
  curl -s ${base}/me -H "authorization: Bearer <token>"
  curl -s ${base}/devices -H "authorization: Bearer <token>"
  curl -s -X POST ${base}/rotate -H "authorization: Bearer <token>"
  curl -s -X POST ${base}/logout -H "authorization: Bearer <token>"`);
  });

  const shutdown = (): void => {
    server.close();
    void MultiToken.close().finally(() => void stopRedis());
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
