import {
  buildProblemResponse,
  isGatehouseError,
  toErrorResponse,
  type HttpErrorResponse,
} from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import type { AuthServerDeps } from '../context.js';
import { AdminRequestError, type AdminActor, type AdminOperations } from './admin-operations.js';
import { checkAdminCredential, type AdminOperators } from '@gatehouse/core';

export interface AdminServices {
  readonly deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>;
  readonly operations: AdminOperations;
  /**
   * The admin credential. There is never a default: without one every admin request is answered
   * 503 (the operator has to configure `admin.token`).
   */
  readonly adminToken: string | undefined;
  /** Operators who authenticate with a client certificate instead of the token (`admin.operators`). */
  readonly operators?: AdminOperators | undefined;
  /** The audit log's verification (`gatehouse audit verify`'s result), when the host provides one. */
  readonly verifyAudit?: (() => Promise<unknown>) | undefined;
}

function send(reply: FastifyReply, response: HttpErrorResponse): FastifyReply {
  return reply
    .code(response.status)
    .headers(response.headers as Record<string, string>)
    .send(response.body);
}

/** The operator a client certificate named, per request (set by the credential check). */
const operators = new WeakMap<FastifyRequest, string>();

const actorOf = (request: FastifyRequest): AdminActor => ({
  via: 'admin-api',
  sourceIp: request.socket.remoteAddress,
  requestId: request.id,
  operator: operators.get(request),
});

/**
 * The admin API (clients, users, signing keys) under `/admin`, for the admin listener only: never
 * on the public issuer. Bearer admin token compared in constant time; a missing or wrong one is
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3) and audited; errors are RFC 9457 problems.
 * Routes live in their own encapsulated scope, so the checks cover unknown `/admin/…` paths too
 * (no route enumeration without the credential).
 */
export function registerAdminRoutes(app: FastifyInstance, services: AdminServices): void {
  const { operations, adminToken, deps } = services;
  const known = services.operators;

  void app.register(
    (scope, _options, done) => {
      scope.addHook('onRequest', async (request, reply) => {
        const check = checkAdminCredential(
          request.headers.authorization,
          adminToken,
          known === undefined ? undefined : { operators: known, socket: request.raw.socket },
        );
        if (check.ok) {
          if (check.operator !== undefined) operators.set(request, check.operator);
          return undefined;
        }
        if (check.reason !== undefined) {
          audit(deps, {
            action: 'admin.auth_failed',
            outcome: 'failure',
            sourceIp: request.socket.remoteAddress,
            requestId: request.id,
            target: { type: 'admin_api' },
            reason: check.reason,
          });
        }
        return send(reply, check.response);
      });

      scope.setErrorHandler((err: unknown, request, reply) => {
        if (err instanceof AdminRequestError) {
          return send(
            reply,
            buildProblemResponse({
              status: err.status,
              detail: err.detail,
              ...(err.errors.length > 0 ? { extensions: { errors: err.errors } } : {}),
            }),
          );
        }
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status === 'number' && status >= 400 && status < 500) {
          // Fastify's own refusals: malformed JSON, wrong media type, body too large.
          const code = (err as { code?: unknown }).code;
          return send(
            reply,
            buildProblemResponse({ status, ...(typeof code === 'string' ? { detail: code } : {}) }),
          );
        }
        request.log.error({ err }, 'admin request failed');
        // A store that is down: 503 problem+json with Retry-After (nothing was changed), never 500.
        if (isGatehouseError(err) && err.status === 503) return send(reply, toErrorResponse(err));
        return send(reply, buildProblemResponse({ status: 500 }));
      });

      scope.setNotFoundHandler((_request, reply) => send(reply, buildProblemResponse({ status: 404 })));

      scope.get('/clients', async (request) => ({ clients: await operations.listClients(actorOf(request)) }));
      scope.post('/clients', async (request, reply) => {
        const created = await operations.createClient(request.body, actorOf(request));
        // RFC 7591 §3.2.1: the secret is part of this one response and is never shown again.
        return reply.code(201).send({
          ...created.client,
          ...(created.client_secret === undefined ? {} : { client_secret: created.client_secret }),
        });
      });
      scope.delete<{ Params: { id: string } }>('/clients/:id', async (request, reply) => {
        await operations.deleteClient(request.params.id, actorOf(request));
        return reply.code(204).send();
      });

      scope.get('/users', async (request) => ({ users: await operations.listUsers(actorOf(request)) }));
      scope.post('/users', async (request, reply) => {
        const user = await operations.createUser(request.body, actorOf(request));
        return reply.code(201).send(user);
      });
      scope.delete<{ Params: { name: string } }>('/users/:name', async (request, reply) => {
        await operations.deleteUser(request.params.name, actorOf(request));
        return reply.code(204).send();
      });

      scope.get('/keys', async (request) => ({ keys: await operations.listKeys(actorOf(request)) }));
      const { verifyAudit } = services;
      if (verifyAudit !== undefined) {
        // The admin console's audit-chain panel; the same result as `gatehouse audit verify --json`.
        scope.get('/audit/verify', async (request) => {
          const result = await verifyAudit();
          audit(deps, {
            action: 'admin.audit.verify',
            outcome: 'success',
            sourceIp: request.socket.remoteAddress,
            requestId: request.id,
          });
          return result;
        });
      }
      scope.post('/keys/rotate', async (request) =>
        operations.rotateKeys(request.body ?? {}, actorOf(request)),
      );
      done();
    },
    { prefix: '/admin' },
  );
}
