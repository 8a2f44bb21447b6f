// A bearer token authenticates one request and starts no login session, unless the route asks
// for one. Passport's `success()` calls `req.logIn(user, options)` with the route's options;
// this hands it a copy with `session: false` instead, for that one call.

type LogIn = (this: unknown, user: unknown, options?: unknown, ...rest: unknown[]) => unknown;

/**
 * Runs `success` with the request's `logIn` (Passport's, Fastify's and koa-passport's alike)
 * wrapped so that its first call, which is the one `success` makes with the route's options,
 * gets a copy of them with `session: false`. The route's options object is never written,
 * so frozen or shared options work; a later `req.logIn` of the app's own is left alone.
 */
export function withoutSession(req: object, success: () => void): void {
  const target = req as { logIn?: unknown };
  const original = target.logIn;
  if (typeof original !== 'function') return success();
  const own = Object.getOwnPropertyDescriptor(req, 'logIn');
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    if (own === undefined) delete target.logIn;
    else Object.defineProperty(req, 'logIn', own);
  };
  const wrapped: LogIn = function (this: unknown, user, options, ...rest) {
    restore();
    const logIn = original as LogIn;
    if (typeof options === 'function') return logIn.call(this, user, { session: false }, options, ...rest);
    const given: object = typeof options === 'object' && options !== null ? options : {};
    if ((given as { session?: unknown }).session !== undefined) return logIn.call(this, user, options, ...rest);
    return logIn.call(this, user, { ...given, session: false }, ...rest);
  };
  try {
    target.logIn = wrapped;
  } catch {
    // A request whose logIn cannot be replaced (frozen, or read-only): Passport decides alone.
  }
  if (target.logIn !== wrapped) return success();
  try {
    success();
  } finally {
    restore();
  }
}
