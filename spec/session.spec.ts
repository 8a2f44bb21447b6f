// A bearer token starts no login session: Passport's success() calls req.logIn with the route's
// options, and that one call gets a copy with session: false. Nothing else changes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withoutSession } from '../src/session.js';

type Call = { user: unknown; options: unknown };

function passportLikeRequest(): { req: { logIn: (user: unknown, options?: unknown, done?: unknown) => void }; calls: Call[] } {
  const calls: Call[] = [];
  const proto = {
    logIn(user: unknown, options?: unknown): void {
      calls.push({ user, options });
    },
  };
  return { req: Object.create(proto) as { logIn: (user: unknown, options?: unknown) => void }, calls };
}

describe('session', () => {
  it('hands the logIn that success() makes a copy of the route options with session: false', () => {
    const { req, calls } = passportLikeRequest();
    const routeOptions = Object.freeze({ scope: 'read' });
    withoutSession(req, () => req.logIn('ada', routeOptions));
    assert.deepEqual(calls, [{ user: 'ada', options: { scope: 'read', session: false } }]);
    assert.deepEqual(routeOptions, { scope: 'read' });
  });

  it('passes a route that sets session itself through untouched', () => {
    const { req, calls } = passportLikeRequest();
    const routeOptions = { session: true };
    withoutSession(req, () => req.logIn('ada', routeOptions));
    assert.equal(calls[0]!.options, routeOptions);
  });

  it('handles logIn(user, done) with the callback in the options place', () => {
    const { req, calls } = passportLikeRequest();
    const done = (): void => {};
    withoutSession(req, () => req.logIn('ada', done));
    assert.deepEqual(calls[0]!.options, { session: false });
  });

  it('puts the request\'s own logIn back, for the app\'s later calls', () => {
    const { req, calls } = passportLikeRequest();
    withoutSession(req, () => req.logIn('ada', {}));
    assert.equal(Object.hasOwn(req, 'logIn'), false);
    req.logIn('grace', {});
    assert.deepEqual(calls[1], { user: 'grace', options: {} });
  });

  it('lets Passport decide alone on a request whose logIn cannot be replaced', () => {
    const { req, calls } = passportLikeRequest();
    Object.freeze(req);
    let succeeded = false;
    withoutSession(req, () => {
      succeeded = true;
      req.logIn('ada', { scope: 'read' });
    });
    assert.equal(succeeded, true);
    assert.deepEqual(calls[0]!.options, { scope: 'read' });
  });

  it('just succeeds on a request without logIn (a bare http server)', () => {
    let succeeded = false;
    withoutSession({}, () => (succeeded = true));
    assert.equal(succeeded, true);
  });
});
