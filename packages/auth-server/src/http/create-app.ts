import { randomUUID } from 'node:crypto';
import {
  GatehouseError,
  isGatehouseError,
  toErrorResponse,
  type Logger,
  type TlsServerOptions,
} from '@gatehouse/core';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { parseParams, type Params } from './params.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Parsed `application/x-www-form-urlencoded` body, RFC 6749 §3.1 rules applied. */
    form: Params | null;
  }
}

export interface CreateAppOptions {
  readonly logger: Logger;
  /** Largest accepted request body (default 64 KiB). */
  readonly bodyLimit?: number;
  /** HTTPS: options from core `loadTlsServerOptions` (absent: plain HTTP). */
  readonly https?: TlsServerOptions | undefined;
}

const FORM = 'application/x-www-form-urlencoded';

/** Headers every answer carries (OWASP secure headers; tokens and pages are never cached). */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  pragma: 'no-cache',
};

/** RFC 6797 §6.1: HTTPS answers tell browsers never to use plain HTTP for this host (one year). */
const HSTS = 'max-age=31536000';

/** Maps Fastify's own client errors (bad JSON, body too large, wrong media type) to OAuth errors. */
function fastifyClientError(err: unknown): GatehouseError | undefined {
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new GatehouseError('ERR_OAUTH_INVALID_REQUEST', {
      detail: (err as { code?: string }).code ?? 'client error',
      cause: err,
    });
  }
  return undefined;
}

/**
 * The library error a failed request is answered with: a GatehouseError as thrown, Fastify's own
 * client errors as `invalid_request`; undefined for anything else (answered `server_error`).
 */
export function knownErrorOf(err: unknown): GatehouseError | undefined {
  return isGatehouseError(err) ? err : fastifyClientError(err);
}

/**
 * The HTTP shell of the authorization server: Fastify with strict form parsing, security headers,
 * and one error path (RFC 6749 §5.2 JSON, never a stack trace). Routes are added by `actions/`.
 */
export function createApp(options: CreateAppOptions): FastifyInstance {
  // A pino Logger is a Fastify logger; typed as the base so the instance has Fastify's default types.
  const logger: FastifyBaseLogger = options.logger;
  const secure = options.https !== undefined;
  const app = Fastify({
    ...(secure ? { https: options.https } : {}),
    loggerInstance: logger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, caseSensitive: true },
    // An https Fastify has https.Server-typed generics; requests and replies are the same objects.
  }) as unknown as FastifyInstance;

  app.decorateRequest('form', null);
  app.removeContentTypeParser(FORM);
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (request, body, done) => {
    try {
      request.form = parseParams(typeof body === 'string' ? body : body.toString('utf8'));
      done(null, request.form);
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onSend', async (_request, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) void reply.header(name, value);
    }
    if (secure && !reply.hasHeader('strict-transport-security'))
      void reply.header('strict-transport-security', HSTS);
  });

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const known = knownErrorOf(err);
    const response = toErrorResponse(known ?? err, { role: 'authorization-server' });
    if (response.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: known?.code, detail: known?.detail }, 'request refused');
    return reply
      .code(response.status)
      .headers(response.headers as Record<string, string>)
      .send(response.body);
  });

  app.setNotFoundHandler((_request, reply) =>
    reply
      .code(404)
      .header('content-type', 'application/problem+json')
      .send(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404 })),
  );

  return app;
}

/** The form body of a POST endpoint that requires one (RFC 6749 §3.2, §4.1.3). */
export function formOf(request: FastifyRequest): Params {
  if (request.form === null) {
    throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: `content type must be ${FORM}` });
  }
  return request.form;
}

/** The client's address as the socket sees it (no proxy headers are trusted here). */
export function sourceIpOf(request: FastifyRequest): string | undefined {
  return request.socket.remoteAddress;
}
