import { randomUUID } from 'node:crypto';
import type { Server } from 'node:https';
import {
  buildProblemResponse,
  emitAuditEvent,
  isGatehouseError,
  toErrorResponse,
  type AuditSink,
  type HttpErrorResponse,
  type Logger,
} from '@gatehouse/core';
import { getPeerCertificate, isGuardError, requirePeerIdentity } from '@gatehouse/guard';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import { ProblemError } from './problem-error.js';

export interface ServiceTls {
  /** PEM certificate chain of this service. */
  readonly cert: string;
  /** PEM private key of this service. */
  readonly key: string;
  /** PEM CA that issued the gateway's client certificate (the development CA). */
  readonly ca: string;
}

export interface CreateServiceAppOptions {
  readonly component: string;
  readonly tls: ServiceTls;
  /** SAN URIs of the only callers allowed (the gateway). */
  readonly peerIdentities: readonly string[];
  readonly logger: Logger;
  readonly audit: AuditSink;
  readonly now: () => number;
}

export type ServiceApp = FastifyInstance<Server>;

/** Headers every answer carries: API answers are per-caller and never cached. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function send(reply: FastifyReply, response: HttpErrorResponse): FastifyReply {
  // A Buffer, so Fastify does not append `; charset=utf-8` to the media type.
  return reply
    .code(response.status)
    .headers(response.headers as Record<string, string | string[]>)
    .send(Buffer.from(response.body, 'utf8'));
}

/**
 * The HTTP shell of a zero-trust demo service: HTTPS that demands a client certificate from the
 * development CA at the handshake, then a peer identity check (SAN URI of the gateway) on every
 * request before anything else runs, and one error path (RFC 6750 / RFC 9457, never a stack).
 */
export function createServiceApp(options: CreateServiceAppOptions): ServiceApp {
  const { component, logger, audit, now } = options;
  const fastifyLogger: FastifyBaseLogger = logger;
  const app = Fastify({
    https: {
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.ca,
      // RFC 8446 §4.4.2.4: without a certificate from the trusted CA the handshake fails, so a
      // caller that bypasses the gateway never gets as far as HTTP.
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    loggerInstance: fastifyLogger,
    bodyLimit: 16 * 1024,
    // The gateway's request id ties the logs of both hops together; anything odd is replaced.
    requestIdHeader: false,
    genReqId: (req) => {
      const id = req.headers['x-request-id'];
      return typeof id === 'string' && REQUEST_ID.test(id) ? id : randomUUID();
    },
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
  });

  // RFC 7396 JSON merge patch is JSON to parse (the OpenAPI document declares both for PATCH).
  app.addContentTypeParser(
    'application/merge-patch+json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  );

  // A trusted chain is not enough: any certificate of the development CA would pass the
  // handshake, so the peer must also be the gateway by name (SAN URI).
  app.addHook('onRequest', (request, _reply, done) => {
    const certificate = getPeerCertificate(request.raw.socket);
    try {
      requirePeerIdentity(certificate, { uris: options.peerIdentities });
    } catch (err) {
      emitAuditEvent(
        audit,
        {
          time: new Date(now()).toISOString(),
          action: 'mtls.peer_identity',
          outcome: 'failure',
          component,
          decision: 'deny',
          reason: isGuardError(err) ? err.code : 'ERR_INTERNAL',
          requestId: request.id,
          ...(request.socket.remoteAddress === undefined ? {} : { sourceIp: request.socket.remoteAddress }),
          ...(certificate?.uris[0] === undefined ? {} : { details: { peer: certificate.uris[0] } }),
        },
        (auditErr: unknown) => logger.error({ err: auditErr }, 'audit sink failed'),
      );
      done(err as FastifyError);
      return;
    }
    done();
  });

  app.addHook('onSend', async (_request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) void reply.header(name, value);
    }
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    const instance = request.id;
    let response: HttpErrorResponse;
    if (err instanceof ProblemError) {
      response = buildProblemResponse({ ...err.problem, instance });
    } else if (isGatehouseError(err)) {
      response = toErrorResponse(err, {
        instance,
        ...(isGuardError(err) && err.requiredScopes ? { scope: err.requiredScopes } : {}),
      });
    } else {
      // Fastify's own client errors: malformed JSON, wrong media type, body too large.
      const status = (err as { statusCode?: unknown }).statusCode;
      response =
        typeof status === 'number' && status >= 400 && status < 500
          ? buildProblemResponse({ status, instance })
          : toErrorResponse(err, { instance });
    }
    if (response.status >= 500) request.log.error({ err }, 'request failed');
    else
      request.log.info(
        { status: response.status, code: isGatehouseError(err) ? err.code : undefined },
        'request refused',
      );
    return send(reply, response);
  });

  app.setNotFoundHandler((request, reply) =>
    send(reply, buildProblemResponse({ status: 404, instance: request.id })),
  );

  return app;
}
