import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpErrorResponse } from '@gatehouse/core';
import type { Principal } from '../../jwt/principal.js';
import { createGuard, type GuardOptions } from '../create-guard.js';
import { fromIncomingMessage } from './from-incoming-message.js';

export type { GuardOptions } from '../create-guard.js';
export { fromIncomingMessage } from './from-incoming-message.js';

/**
 * Authenticates a node:http request: resolves the principal, or answers the refusal itself
 * (401/403 with RFC 6750 challenges, 503 problem) and resolves undefined.
 */
export type NodeGuard = (req: IncomingMessage, res: ServerResponse) => Promise<Principal | undefined>;

export function writeErrorResponse(res: ServerResponse, response: HttpErrorResponse): void {
  res.writeHead(response.status, response.headers as Record<string, string | string[]>);
  res.end(response.body);
}

export function createNodeGuard(options: GuardOptions): NodeGuard {
  const guard = createGuard(options);
  return async (req, res) => {
    const request = fromIncomingMessage(req);
    try {
      return await guard.authenticate(request);
    } catch (err) {
      writeErrorResponse(res, guard.refuse(err, request));
      return undefined;
    }
  };
}
