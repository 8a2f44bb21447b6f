// Opt-in types for Express (4 and 5) and anything else typed through Passport's global
// `Express` namespace, NestJS on Express included. `import 'passport-redis-multi-token/express'`
// once, anywhere in the program; this module has no run-time content.
import type { TokenInfo } from './types.js';
import type { BearerChallenge } from './bearer.js';

declare global {
  // Passport's own types declare `req.user` and `req.authInfo` in this namespace, so this is
  // the one place an augmentation can reach them.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    /** After `import 'passport-redis-multi-token/express'`, `req.authInfo` is the token info. */
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface AuthInfo extends TokenInfo {}

    interface Request {
      /** What the strategy left on a request it refused: status and challenge. */
      bearerChallenge?: BearerChallenge | undefined;
    }
  }
}
