import type { RequestHandler } from 'express';
import type { Principal } from '../../jwt/principal.js';
import { createGuard, type GuardOptions } from '../create-guard.js';
import { fromIncomingMessage } from '../node/from-incoming-message.js';
import { writeErrorResponse } from '../node/index.js';

export type { GuardOptions } from '../create-guard.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the guard middleware for authenticated requests. */
    principal?: Principal;
  }
}

/** Express middleware: sets `req.principal` or answers the refusal (never calls `next` then). */
export function guard(options: GuardOptions): RequestHandler {
  const core = createGuard(options);
  return (req, res, next) => {
    // Mounted middleware (`app.use('/api', guard())`) sees `req.url` without the mount path;
    // the DPoP `htu` check needs the target the client sent (RFC 9449 §4.3 step 9).
    const request = { ...fromIncomingMessage(req), path: req.originalUrl };
    core.authenticate(request).then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (err: unknown) => {
        writeErrorResponse(res, core.refuse(err, request));
      },
    );
  };
}
