import type { AuditSink, Logger } from '@gatehouse/core';
import type { Principal, Verifier } from '@gatehouse/guard';
import { guardPlugin } from '@gatehouse/guard/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServiceApp } from './create-service-app.js';

export interface GuardContext {
  readonly verifier: Verifier;
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly component: string;
  readonly now: () => number;
}

/**
 * Registers routes behind guard with the scopes they need: the token is checked in `onRequest`,
 * before any body is read, and a missing scope is a 403 `insufficient_scope` (RFC 6750 §3.1).
 * Each scope set is its own Fastify context, so one path can need different scopes per method.
 */
export function registerGuarded(
  app: ServiceApp,
  guard: GuardContext,
  scopes: readonly string[],
  routes: (context: FastifyInstance) => void,
): void {
  void app.register((context, _options, done) => {
    void context.register(guardPlugin, {
      verifier: guard.verifier,
      scopes,
      // Internal tokens travel gateway → service over mTLS as bearer tokens; no DPoP on this hop.
      dpop: false,
      logger: guard.logger,
      audit: guard.audit,
      component: guard.component,
      now: guard.now,
    });
    routes(context);
    done();
  });
}

/** The principal of a request that passed guard (routes registered by `registerGuarded` only). */
export function principalOf(request: FastifyRequest): Principal {
  const { principal } = request;
  if (principal === null) throw new Error('route registered without guard');
  return principal;
}
