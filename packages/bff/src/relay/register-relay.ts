import type { FastifyInstance } from 'fastify';
import { errors, request as undiciRequest, type Dispatcher } from 'undici';
import type { BffContext } from '../context.js';
import { sendProblem } from '../errors.js';
import { readCookie } from '../http/cookies.js';
import { buildDownstreamHeaders, buildUpstreamHeaders } from './relay-headers.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * /api/* — token relay (OAuth 2.0 for Browser-Based Apps §6.1, the BFF pattern): the request goes
 * to the gateway with the path and query unchanged and the session's access token as
 * `Authorization: Bearer`; the browser never holds a token. Bodies are buffered up to the limit.
 */
export function registerRelay(app: FastifyInstance, ctx: BffContext, dispatcher: Dispatcher): void {
  const gateway = new URL(ctx.config.gateway.url);
  const base = gateway.href.replace(/\/$/, '');
  const { timeoutMs } = ctx.config.gateway;

  void app.register((scope, _options, done) => {
    // Any body is relayed as bytes; the gateway validates it.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: ctx.config.relay.bodyLimitBytes },
      (_request, body, next) => {
        next(null, body);
      },
    );

    scope.route<{ Body: Buffer | undefined }>({
      method: [...METHODS],
      url: '/api/*',
      async handler(request, reply) {
        const current = await ctx.sessions.current(
          readCookie(request.headers.cookie, ctx.cookies.names.session),
        );
        if (current === undefined) return sendProblem(reply, 'ERR_BFF_SESSION_REQUIRED');
        let accessToken: string | undefined;
        try {
          accessToken = await ctx.sessions.accessToken(current);
        } catch (err) {
          ctx.logger.error({ err: { name: (err as Error).name } }, 'token refresh failed');
          return sendProblem(reply, 'ERR_BFF_OP_UNAVAILABLE');
        }
        if (accessToken === undefined) {
          ctx.audit(request, {
            action: 'bff.session_end',
            outcome: 'success',
            sub: current.session.sub,
            reason: 'refresh_refused',
          });
          return sendProblem(reply, 'ERR_BFF_SESSION_REQUIRED');
        }
        let upstream: Dispatcher.ResponseData;
        try {
          upstream = await undiciRequest(`${base}${request.url}`, {
            dispatcher,
            method: request.method,
            headers: buildUpstreamHeaders(request.headers, accessToken, request.ip),
            body: Buffer.isBuffer(request.body) && request.body.length > 0 ? request.body : null,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          });
        } catch (err) {
          const timedOut =
            err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError;
          ctx.logger.warn({ err: { name: (err as Error).name } }, 'gateway request failed');
          return sendProblem(reply, timedOut ? 'ERR_BFF_UPSTREAM_TIMEOUT' : 'ERR_BFF_UPSTREAM_UNAVAILABLE');
        }
        return reply
          .code(upstream.statusCode)
          .headers(buildDownstreamHeaders(upstream.headers))
          .send(upstream.body);
      },
    });
    done();
  });
}
