import type { AuditEvent, AuditSink, Logger } from '@gatehouse/core';
import { emitAuditEvent } from '@gatehouse/core';
import type { FastifyRequest } from 'fastify';
import type { BffConfig } from './config/bff-config-schema.js';
import type { CookieSettings } from './http/cookies.js';
import type { LogoutHandoff } from './http/logout-handoff.js';
import type { OriginPolicy } from './http/origin-policy.js';
import type { OidcClient } from './oidc/oidc-client.js';
import type { SessionManager } from './sessions/session-manager.js';

/** What every route shares. */
export interface BffContext {
  readonly config: BffConfig;
  readonly cookies: CookieSettings;
  readonly origins: OriginPolicy;
  readonly oidc: OidcClient;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly now: () => number;
  /** Where the OP sends the browser back (`publicUrl` + `/auth/callback`). */
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  readonly logoutHandoff: LogoutHandoff;
  audit(request: FastifyRequest | undefined, event: BffAuditInput): void;
}

export interface BffAuditInput {
  readonly action: string;
  readonly outcome: AuditEvent['outcome'];
  readonly sub?: string | undefined;
  readonly reason?: string | undefined;
  readonly details?: AuditEvent['details'];
}

export function createAudit(
  sink: AuditSink | undefined,
  logger: Logger,
  now: () => number,
  clientId: string,
): BffContext['audit'] {
  return (request, input) => {
    const event: AuditEvent = {
      time: new Date(now()).toISOString(),
      action: input.action,
      outcome: input.outcome,
      component: 'bff',
      actor: input.sub === undefined ? { clientId } : { sub: input.sub, clientId },
      ...(request === undefined ? {} : { sourceIp: request.ip, requestId: request.id }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      ...(input.details === undefined ? {} : { details: input.details }),
    };
    emitAuditEvent(sink, event, (err) => {
      logger.error({ err }, 'audit sink failed');
    });
  };
}
