import {
  checkAdminCredential,
  type AdminOperators,
  buildProblemResponse,
  emitAuditEvent,
  GatehouseError,
  type AuditSink,
  type HttpErrorResponse,
  type Logger,
} from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Gateway } from '../create-gateway.js';
import { buildIpSet } from '../net/ip-set.js';
import { alertmanagerNotificationSchema, applyAlertmanagerNotification } from './alertmanager-webhook.js';
import { registerConsoleRoutes } from './console/register-console-routes.js';

export interface GatewayAdminOptions {
  readonly gateway: Gateway;
  /** The admin credential; without one the admin routes answer 503 (never a default credential). */
  readonly adminToken: string | undefined;
  /**
   * Operators who authenticate with a client certificate instead of the token (`admin.operators`);
   * the listener's TLS must ask for certificates (`clientAuth`) and verify them (`caFile`).
   */
  readonly operators?: AdminOperators | undefined;
  /** Re-reads the configuration file and applies it (what SIGHUP does). */
  readonly reload: () => Promise<void>;
  readonly logger: Logger;
  readonly audit?: AuditSink | undefined;
  readonly now?: () => number;
}

const topClientsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
});

const banInput = z.strictObject({
  subject: z
    .string()
    .min(1)
    .max(64)
    .refine(
      (value) => {
        try {
          buildIpSet([value]);
          return true;
        } catch {
          return false;
        }
      },
      { error: 'an IP address or CIDR block' },
    ),
  durationSec: z
    .number()
    .int()
    .positive()
    .max(366 * 86_400),
  reason: z.string().min(1).max(200).default('admin'),
});

function send(reply: FastifyReply, response: HttpErrorResponse): FastifyReply {
  return reply
    .code(response.status)
    .headers(response.headers as Record<string, string>)
    .send(response.body);
}

/**
 * Probes and metrics at the root of the admin listener (`/healthz`, `/readyz`, `/metrics`: no
 * credential, they disclose nothing but states and counts), and the gateway admin API under
 * `/admin/gateway` behind the admin bearer token (compared in constant time, failures audited).
 */
export function registerGatewayAdminRoutes(app: FastifyInstance, options: GatewayAdminOptions): void {
  const { gateway, adminToken, operators } = options;
  // Who acts: the operator a client certificate named, else the admin API (token).
  const operatorOf = new WeakMap<FastifyRequest, string>();
  const actor = (request: FastifyRequest): string => operatorOf.get(request) ?? 'admin-api';
  const now = options.now ?? Date.now;
  const audit = (
    action: string,
    outcome: 'success' | 'failure',
    details: Record<string, string | number>,
  ): void => {
    emitAuditEvent(
      options.audit,
      { time: new Date(now()).toISOString(), action, outcome, component: 'gateway', details },
      (err) => options.logger.warn({ err }, 'audit sink failed'),
    );
  };

  app.get('/healthz', async (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const health = gateway.health();
    return reply.code(health.ready ? 200 : 503).send({ status: health.ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_request, reply) =>
    reply.header('content-type', gateway.metrics.contentType).send(gateway.metrics.render()),
  );
  // The admin console: static files only (its data comes from the token-guarded API below).
  registerConsoleRoutes(app);

  void app.register(
    (scope, _options, done) => {
      scope.addHook('onRequest', async (request, reply) => {
        const check = checkAdminCredential(
          request.headers.authorization,
          adminToken,
          operators === undefined ? undefined : { operators, socket: request.raw.socket },
        );
        if (check.ok) {
          if (check.operator !== undefined) operatorOf.set(request, check.operator);
          return undefined;
        }
        if (check.reason !== undefined) audit('admin.auth_failed', 'failure', { reason: check.reason });
        return send(reply, check.response);
      });
      scope.setErrorHandler((err: unknown, request, reply) => {
        if (err instanceof z.ZodError) {
          return send(
            reply,
            buildProblemResponse({
              status: 400,
              extensions: {
                errors: err.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
              },
            }),
          );
        }
        if (err instanceof TypeError || err instanceof RangeError)
          return send(reply, buildProblemResponse({ status: 400, detail: err.message }));
        if (err instanceof GatehouseError && err.code === 'ERR_CONFIG_INVALID') {
          return send(
            reply,
            buildProblemResponse({ status: 422, detail: err.detail ?? 'invalid configuration' }),
          );
        }
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status === 'number' && status >= 400 && status < 500)
          return send(reply, buildProblemResponse({ status }));
        request.log.error({ err }, 'gateway admin request failed');
        return send(reply, buildProblemResponse({ status: 500 }));
      });
      scope.setNotFoundHandler((_request, reply) => send(reply, buildProblemResponse({ status: 404 })));

      scope.get('/routes', (_request, reply) =>
        reply.send({
          routes: gateway.config().routes.map((route) => ({
            id: route.id,
            match: route.match,
            upstream: route.upstream,
            ...(route.fallbackUpstream === undefined
              ? {}
              : {
                  fallbackUpstream: route.fallbackUpstream,
                  rerouted: gateway.reroutes.isRerouted(route.id),
                }),
            auth: route.auth,
            scopes: route.scopes,
            openapi: route.openapi !== undefined,
            rateLimits: route.rateLimits.map((limit) => limit.id),
          })),
        }),
      );
      scope.get('/health', (_request, reply) => reply.send(gateway.health()));
      scope.post('/reload', async (request, reply) => {
        try {
          await options.reload();
        } catch (err) {
          const operator = operatorOf.get(request);
          audit('gateway.config.reload', 'failure', {
            via: 'admin-api',
            ...(operator === undefined ? {} : { operator }),
          });
          throw err;
        }
        return reply.send({ status: 'reloaded', routes: gateway.config().routes.length });
      });
      scope.get('/bans', async () => ({ bans: await gateway.bans.list() }));
      scope.post('/bans', async (request, reply) => {
        const input = banInput.parse(request.body);
        const ban = await gateway.bans.add({ ...input, source: 'admin', actor: actor(request) });
        return reply.code(201).send(ban);
      });
      scope.delete<{ Params: { subject: string } }>('/bans/:subject', async (request, reply) => {
        const removed = await gateway.bans.remove(decodeURIComponent(request.params.subject), actor(request));
        return removed ? reply.code(204).send() : send(reply, buildProblemResponse({ status: 404 }));
      });
      // Routes switched to their fallback upstream by alerts (one entry per alert), and lifting them.
      scope.get('/reroutes', async () => {
        const fallbacks = new Map(gateway.config().routes.map((route) => [route.id, route.fallbackUpstream]));
        const reroutes = await gateway.reroutes.list();
        // Where each route's requests go now: its fallback in the configuration in force.
        return {
          reroutes: reroutes.map((reroute) => ({ ...reroute, upstream: fallbacks.get(reroute.route) })),
        };
      });
      scope.delete<{ Params: { route: string } }>('/reroutes/:route', async (request, reply) => {
        // Route ids are plain labels ([a-z0-9_-]): the router's decoding is all they need.
        const lifted = await gateway.reroutes.lift(request.params.route, { actor: actor(request) });
        return lifted > 0 ? reply.code(204).send() : send(reply, buildProblemResponse({ status: 404 }));
      });
      scope.get('/top-clients', (request, reply) =>
        reply.send(gateway.topClients.list(topClientsQuery.parse(request.query).limit)),
      );
      scope.get('/detections', (_request, reply) => reply.send({ detections: gateway.detections() }));
      scope.get('/alerts', (_request, reply) => reply.send(gateway.alerts.list()));
      // Alertmanager's webhook receiver (deploy/alertmanager): bans and reroutes asked for by alert labels.
      scope.post('/alertmanager', async (request, reply) => {
        const notification = alertmanagerNotificationSchema.parse(request.body);
        const outcomes = await applyAlertmanagerNotification(
          { bans: gateway.bans, reroutes: gateway.reroutes },
          notification,
        );
        for (const outcome of outcomes) {
          audit('gateway.alert.received', outcome.action === 'refused' ? 'failure' : 'success', {
            alertname: outcome.alertname,
            status: outcome.status,
            action: outcome.action,
            ...(outcome.fingerprint === undefined ? {} : { fingerprint: outcome.fingerprint }),
            ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
            ...(outcome.ban === undefined ? {} : { subject: outcome.ban.subject }),
            ...(outcome.reroute === undefined ? {} : { route: outcome.reroute.route }),
          });
        }
        return reply.send({
          received: outcomes.length,
          alerts: outcomes.map(({ ban, reroute, ...outcome }) => ({
            ...outcome,
            ...(ban === undefined ? {} : { subject: ban.subject, expiresAt: ban.expiresAt }),
            ...reroute,
          })),
        });
      });
      done();
    },
    { prefix: '/admin/gateway' },
  );
}
