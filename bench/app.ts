// One Express 5 app of the HTTP benchmark, in a process of its own. Started by bench/http.ts
// with its kind and the Redis URL; answers GET /me, and reports its port over IPC.
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { Passport } from 'passport';
import { APP_KINDS, type AppKind, type AppReady } from './app-kinds.js';
import { InstantStrategy, bearerStrategy, cachingClient, jwtStrategy, oursStrategy, plainClient, USER_ID } from './contenders.js';

function isKind(value: unknown): value is AppKind {
  return APP_KINDS.includes(value as AppKind);
}

async function guard(kind: Exclude<AppKind, 'none'>, url: string): Promise<RequestHandler> {
  const passport = new Passport();
  switch (kind) {
    case 'instant':
      passport.use(new InstantStrategy());
      return passport.authenticate('instant', { session: false }) as RequestHandler;
    case 'ours':
      // As the README shows it: no `session: false`, the strategy opts out of sessions itself.
      passport.use(oursStrategy(await plainClient(url)));
      return passport.authenticate('redis-multi-token') as RequestHandler;
    case 'ours-csc':
      passport.use(oursStrategy(await cachingClient(url)));
      return passport.authenticate('redis-multi-token') as RequestHandler;
    case 'bearer':
      passport.use(bearerStrategy(await plainClient(url)));
      return passport.authenticate('bearer', { session: false }) as RequestHandler;
    case 'jwt':
    case 'jwt-key':
      passport.use(jwtStrategy(kind === 'jwt' ? 'string' : 'key'));
      return passport.authenticate('jwt', { session: false }) as RequestHandler;
  }
}

async function main(): Promise<void> {
  const [kind, url] = process.argv.slice(2);
  if (!isKind(kind) || url === undefined || process.send === undefined) {
    throw new Error('bench/app.ts is started by bench/http.ts: <kind> <redis url>, with an IPC channel');
  }
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (kind === 'none') {
    app.get('/me', (_req, res) => res.json({ id: USER_ID }));
  } else {
    app.get('/me', await guard(kind, url), (req, res) => res.json(req.user));
  }
  const server = app.listen(0, '127.0.0.1', () => {
    const ready: AppReady = { port: (server.address() as AddressInfo).port };
    process.send?.(ready);
  });
  // The parent going away, however it goes, ends the app.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
