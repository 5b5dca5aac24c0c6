import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { buildProblemResponse, GatehouseError, type Logger, type RecordWriter } from '@gatehouse/core';
import {
  checkScopes,
  type AuthOutcome,
  type AuthPrincipal,
  type GatewayAuthenticator,
} from '../auth/index.js';
import { readForwardedCertificate } from '../auth/forwarded-certificate.js';
import type { RequestObserver } from '../detect/index.js';
import { canonicalizeTarget, isCanonicalPath } from '../http/canonical-path.js';
import { resolveClientIp } from '../http/client-ip.js';
import { parseJsonWithLimits } from '../http/json-limits.js';
import { readBody } from '../http/read-body.js';
import { createRequestId, isValidRequestId } from '../http/request-id.js';
import { buildUpstreamHeaders } from '../http/request-headers.js';
import type { OperationMatch } from '../openapi/index.js';
import { continueTraceparent } from '../http/trace-context.js';
import type { BanList } from '../limits/ban-list.js';
import type { RateLimiter, RateLimitResult } from '../limits/rate-limiter.js';
import { normalizeIp } from '../net/ip-set.js';
import type { AccessRecord } from '../observability/access-log.js';
import type { GatewayMetrics } from '../observability/gateway-metrics.js';
import type { TopClients } from '../observability/top-clients.js';
import type { RerouteList } from '../routing/reroute-list.js';
import { rewritePath } from '../routing/route-table.js';
import type { RouteRuntime, Runtime } from '../runtime/build-runtime.js';
import type { UpstreamCall } from '../upstream/upstream.js';
import type { RequestDecision } from './audit-request.js';
import { ResponseRelay, type Outcome } from './relay-response.js';
import { sendError } from './respond.js';

export interface PipelineDeps {
  /** The configuration in force (swapped on reload; a request keeps the one it started with). */
  readonly runtime: () => Runtime;
  readonly authenticator: () => GatewayAuthenticator | undefined;
  readonly limiter: RateLimiter;
  readonly bans: BanList;
  /** Routes an alert switched to their fallback upstream. */
  readonly reroutes: Pick<RerouteList, 'isRerouted'>;
  readonly recordAuthFailure:
    ((input: { ip: string; network: string; clientId: string | undefined }) => Promise<void>) | undefined;
  readonly metrics: GatewayMetrics;
  /** The heaviest clients (admin console): fed every finished request, refused ones included. */
  readonly topClients: TopClients;
  readonly accessLog: RecordWriter<AccessRecord>;
  readonly logger: Logger;
  /** External origin (DPoP `htu`, Location rewriting), e.g. `https://api.example.com`. */
  readonly publicOrigin: () => string;
  /** Records the decision on a finished request in the audit log (`gateway.auditRequests`). */
  readonly auditRequest?: ((decision: RequestDecision) => void) | undefined;
  /** Abuse detectors and alert rules, fed every finished request (undefined: all off). */
  readonly observer: () => RequestObserver | undefined;
  readonly now: () => number;
  /**
   * External authorization (ext-authz/): a request every stage admitted is answered by `admit`
   * instead of being proxied, and its body (which the data plane never sends) is not read.
   */
  readonly admit?: (res: ServerResponse, admitted: AdmittedRequest) => number;
}

/** A request every stage admitted, as it would go upstream. */
export interface AdmittedRequest {
  readonly route: RouteRuntime;
  /** Id of the upstream it would go to (the fallback while the route is rerouted). */
  readonly upstreamId: string;
  /** The rewritten canonical path, then `?` and the query as received when there is one. */
  readonly upstreamTarget: string;
  /**
   * The headers the upstream would get (the internal `authorization` among them), a flat list with
   * lower-case names (`fieldValue` reads one).
   */
  readonly headers: readonly string[];
  readonly principal: AuthPrincipal | undefined;
}

const NONE: readonly string[] = Object.freeze([]);
const PROXIED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const ALLOW_ALL = [...PROXIED_METHODS].join(', ');
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
const BODYLESS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json$/;

function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

function hasBody(req: IncomingMessage): boolean {
  // HTTP/2 frames a body in DATA frames, with or without Content-Length (RFC 9113 §8.1): a request
  // has none when its HEADERS frame ended the stream.
  if (req.httpVersionMajor === 2) return !(req as unknown as Http2ServerRequest).stream.endAfterHeaders;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The request pipeline, one function per request: each stage either refuses (problem+json, or an
 * RFC 6750 challenge) or hands on; nothing reaches the upstream that any stage refused.
 */
export function createRequestHandler(
  deps: PipelineDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const started = performance.now();
    const runtime = deps.runtime();
    const socketIp = normalizeIp(req.socket.remoteAddress ?? '');
    const peerTrusted = runtime.trustedProxies.size > 0 && runtime.trustedProxies.contains(socketIp);
    const clientIp = peerTrusted
      ? resolveClientIp(socketIp, joinedHeader(req.headers['x-forwarded-for']), runtime.trustedProxies)
      : socketIp;
    // What limits, detectors and automatic bans count the client by (its IPv6 network).
    const clientNet = runtime.clientNetwork(clientIp);
    const inbound = req.headers['x-request-id'];
    const requestId =
      peerTrusted && typeof inbound === 'string' && isValidRequestId(inbound) ? inbound : createRequestId();
    const outcome: Outcome = {
      route: '_unmatched',
      status: 0,
      upstreamMs: undefined,
      clientId: undefined,
      sub: undefined,
      admitted: false,
      refusal: undefined,
    };
    const hsts = runtime.config.responses.hsts === false ? undefined : runtime.config.responses.hsts;

    // The upstream call in progress: aborted when the client goes away before the answer is complete.
    let call: UpstreamCall | undefined;
    // What the detectors see beyond the outcome. A banned or IP-denied client is not observed: it
    // is refused already, and its refusals would only count against it again.
    let observed = true;
    let canonicalPath: string | undefined = undefined;
    let operation: OperationMatch | undefined;
    let validationFailed = false;
    // One listener per request, for the upstream call, the access log and the metrics.
    res.on('close', () => {
      if (call !== undefined && !res.writableFinished) call.abort();
      const totalMs = performance.now() - started;
      const status = outcome.status === 0 ? (res.headersSent ? res.statusCode : 499) : outcome.status;
      const upstreamMs = outcome.upstreamMs;
      const gatewayMs = upstreamMs === undefined ? totalMs : Math.max(0, totalMs - upstreamMs);
      deps.metrics.observeRequest(
        outcome.route,
        req.method ?? 'OTHER',
        status,
        gatewayMs / 1000,
        upstreamMs === undefined ? undefined : upstreamMs / 1000,
      );
      // Counted as limits count it: an IPv6 client by its network, not by each address it rotates.
      deps.topClients.record(outcome.clientId, clientNet, status >= 400);
      // RFC 9110 §7.1: the path only — a query string may carry secrets some clients put there.
      const questionMark = (req.url ?? '').indexOf('?');
      const path = questionMark === -1 ? req.url : req.url?.slice(0, questionMark);
      deps.accessLog.write({
        requestId,
        route: outcome.route,
        method: req.method,
        path,
        status,
        clientIp,
        clientId: outcome.clientId,
        sub: outcome.sub,
        durationMs: Math.round(totalMs * 1000) / 1000,
        upstreamMs: upstreamMs === undefined ? undefined : Math.round(upstreamMs * 1000) / 1000,
        aborted: !res.writableFinished,
      });
      deps.auditRequest?.({
        time: deps.now(),
        requestId,
        clientIp,
        route: outcome.route,
        method: req.method ?? '',
        path: canonicalPath ?? path ?? '',
        status,
        clientId: outcome.clientId,
        sub: outcome.sub,
        admitted: outcome.admitted,
        refusal: outcome.admitted ? undefined : outcome.refusal,
      });
      const observer = observed ? deps.observer() : undefined;
      observer?.observe({
        time: deps.now(),
        clientIp,
        clientNet,
        clientId: outcome.clientId,
        sub: outcome.sub,
        route: outcome.route,
        method: req.method ?? '',
        path: canonicalPath,
        status,
        validationFailed,
        params: operation?.params,
      });
    });

    // The rate limiter's answer headers: written with whatever answer the request gets, in one
    // writeHead with the rest (a setHeader before writeHead makes node merge every header one by one).
    let rateLimitHeaders: Readonly<Record<string, string>> | undefined;
    const setRateLimitHeaders = (): void => {
      if (rateLimitHeaders === undefined || res.headersSent) return;
      for (const [name, value] of Object.entries(rateLimitHeaders)) res.setHeader(name, value);
    };
    const refuseInvalid = (problems: readonly { pointer: string; message: string }[]): void => {
      validationFailed = true;
      outcome.refusal = 'ERR_GATEWAY_VALIDATION_FAILED';
      setRateLimitHeaders();
      outcome.status = sendValidationProblem(res, requestId, problems, hsts);
    };

    const fail = (
      error: GatehouseError | Parameters<typeof sendError>[1],
      extra?: Omit<Parameters<typeof sendError>[2], 'requestId' | 'hsts'>,
    ): undefined => {
      setRateLimitHeaders();
      // After admission a failure is the upstream's (timeout, open circuit), not a refusal.
      if (!outcome.admitted) outcome.refusal = typeof error === 'string' ? error : error.code;
      outcome.status = sendError(res, error, { requestId, hsts, ...extra });
      // The rest of a refused request body is not read: close the connection after the answer.
      if (!req.complete) res.shouldKeepAlive = false;
      return undefined;
    };

    // 1. Bans and IP rules come before any other work (a banned client costs one lookup).
    if (deps.bans.isBanned(clientIp) !== undefined) {
      observed = false;
      fail('ERR_GATEWAY_BANNED');
      return;
    }
    if (runtime.ipRules.decide(clientIp) === 'deny') {
      observed = false;
      fail('ERR_GATEWAY_IP_DENIED');
      return;
    }

    // Only the methods of RFC 9110 §9.3 a route can allow are proxied; TRACE, CONNECT and
    // extension methods (WebDAV, PURGE…) never reach a service.
    const method = req.method ?? '';
    if (!PROXIED_METHODS.has(method)) {
      fail('ERR_GATEWAY_METHOD_NOT_ALLOWED', { headers: { allow: ALLOW_ALL } });
      return;
    }

    // 2. What the HTTP parser lets through but a proxy must not: framing and Host (RFC 9112).
    const framing = framingProblem(req);
    if (framing !== undefined) {
      // Whatever follows on this connection cannot be trusted to start where this request ended.
      res.shouldKeepAlive = false;
      fail(new GatehouseError('ERR_GATEWAY_BAD_REQUEST', { detail: framing }));
      return;
    }

    // Limits the HTTP parser does not enforce, then one canonical path.
    const limits = runtime.config.limits;
    if (
      req.httpVersionMajor === 2
        ? http2HeadersTooLarge(req.rawHeaders, limits)
        : req.rawHeaders.length / 2 > limits.maxHeaderCount
    ) {
      fail('ERR_GATEWAY_HEADERS_TOO_LARGE');
      return;
    }
    const url = req.url ?? '';
    if (url.length > limits.maxUrlLength) {
      fail('ERR_GATEWAY_URL_TOO_LONG');
      return;
    }
    const target = canonicalizeTarget(url);
    if (!target.ok) {
      fail(new GatehouseError('ERR_GATEWAY_PATH_INVALID', { detail: target.reason }));
      return;
    }
    const { path, query } = target;
    canonicalPath = path;

    // 3. Route.
    const host = requestHost(req);
    const match = runtime.table.match(host, method, path);
    if (match.kind === 'not-found') {
      fail('ERR_GATEWAY_ROUTE_NOT_FOUND');
      return;
    }
    if (match.kind === 'method-not-allowed') {
      fail('ERR_GATEWAY_METHOD_NOT_ALLOWED', { headers: { allow: match.allow.join(', ') } });
      return;
    }
    const route = runtime.routes.get(match.route) as RouteRuntime;
    outcome.route = route.id;

    // 4. Content rules.
    const refusal = route.filter.check({ method, path, query, headers: req.headers });
    if (refusal !== undefined) {
      fail(
        new GatehouseError(refusal.code, { detail: refusal.detail }),
        refusal.allow === undefined ? undefined : { headers: { allow: refusal.allow } },
      );
      return;
    }

    // 5. The positive security model: only declared operations, valid parameters.
    if (route.openapi !== undefined) {
      const found = route.openapi.match(method, path);
      // An undeclared operation does not exist (architecture contract: anything undeclared is 404),
      // also when only its method is undeclared: no 405 and no `Allow` mapping the API's surface.
      if (found === undefined || found === 'method-not-allowed') {
        fail('ERR_GATEWAY_ROUTE_NOT_FOUND');
        return;
      }
      operation = found;
      const problems = operation.validate({ query, headers: req.headers });
      if (problems.length > 0) {
        refuseInvalid(problems);
        return;
      }
    }

    // From here on a stage may have to wait (keys, the auth server, a shared rate-limit store, the
    // body); when its caches answer, it goes on synchronously, without a promise per stage.
    let auth: AuthOutcome | undefined;
    try {
      void authenticate()?.catch(failUnexpected);
    } catch (err) {
      failUnexpected(err);
    }

    function failUnexpected(err: unknown): void {
      // The client went away: nothing to answer (the access log records 499).
      // (Not req.destroyed: a request whose body was read to the end is destroyed too.)
      if (res.destroyed) return;
      if (err instanceof GatehouseError) {
        // Code and detail only: causes (socket errors, aborts) are not worth a stack per request.
        if (err.status >= 500)
          deps.logger.warn(
            { code: err.code, detail: err.detail, requestId, route: route.id },
            'request failed',
          );
        fail(err);
        return;
      }
      deps.logger.error({ err, requestId, route: route.id }, 'unexpected error in the request pipeline');
      fail('ERR_INTERNAL');
    }

    /**
     * The client's certificate for RFC 8705 binding: from a trusted proxy, only what it forwarded
     * in `clientCertificateHeader` (when configured); otherwise the TLS connection's own.
     */
    function clientCertificate(header: string | undefined): X509Certificate | undefined {
      if (header !== undefined && peerTrusted) {
        return readForwardedCertificate(fieldValues(req, header), deps.logger);
      }
      const socket = req.socket as Partial<TLSSocket>;
      return typeof socket.getPeerX509Certificate === 'function'
        ? socket.getPeerX509Certificate()
        : undefined;
    }

    // 6. Authentication and coarse scopes.
    function authenticate(): Promise<void> | undefined {
      const mode = route.config.auth;
      if (mode === 'none') return limitRate();
      const authenticator = deps.authenticator() as GatewayAuthenticator;
      const dpop = fieldValues(req, 'dpop');
      if (dpop !== undefined && dpop.length > 1) {
        fail('ERR_DPOP_MULTIPLE_PROOFS');
        return;
      }
      const certificate = clientCertificate(runtime.certificateHeader);
      const authorization = fieldValues(req, 'authorization');
      if (authorization !== undefined && authorization.length > 1) {
        fail('ERR_OAUTH_INVALID_REQUEST');
        return;
      }
      const answer = authenticator.authenticate(
        {
          authorization: authorization?.[0],
          dpop: dpop?.[0],
          method,
          htu: `${deps.publicOrigin()}${path}`,
          ...(certificate === undefined ? {} : { peerCertificate: certificate }),
        },
        { mode, audience: route.config.audience as string },
      );
      return answer instanceof Promise ? answer.then(admit) : admit(answer);
    }

    function admit(result: AuthOutcome): Promise<void> | undefined {
      auth = result;
      if (!result.ok) {
        deps.metrics.authFailure(result.reason);
        if (result.error.status === 401 && deps.recordAuthFailure !== undefined) {
          void deps
            .recordAuthFailure({ ip: clientIp, network: clientNet, clientId: undefined })
            .catch((err: unknown) => {
              deps.logger.warn({ err }, 'brute-force detector failed');
            });
        }
        fail(result.error, { schemes: ['Bearer', 'DPoP'] });
        return;
      }
      const { principal } = result;
      outcome.clientId = principal.clientId;
      outcome.sub = principal.sub;
      const required = route.scopesFor(method);
      const declared = operation === undefined ? NONE : route.operationScopes(method, operation.pathTemplate);
      if (!checkScopes(principal.scopes, required) || !checkScopes(principal.scopes, declared)) {
        fail('ERR_INSUFFICIENT_SCOPE', { scope: [...new Set([...required, ...declared])] });
        return;
      }
      return limitRate();
    }

    // 7. Rate limits.
    function limitRate(): Promise<void> | undefined {
      if (route.rateLimits.length === 0) return readRequestBody();
      const decision = deps.limiter.check(route.rateLimits, {
        ip: clientNet,
        clientId: outcome.clientId,
        sub: outcome.sub,
        route: route.id,
      });
      return decision instanceof Promise ? decision.then(applyRateLimit) : applyRateLimit(decision);
    }

    function applyRateLimit(decision: RateLimitResult): Promise<void> | undefined {
      rateLimitHeaders = decision.headers;
      if (decision.allowed) return readRequestBody();
      // onStoreFailure closed: the store could not decide, so the answer is 503, not 429.
      if (decision.storeFailed && decision.retryAfterSec === undefined) {
        fail('ERR_STORE_UNAVAILABLE');
        return;
      }
      deps.metrics.rateLimited(route.id);
      fail(
        'ERR_GATEWAY_RATE_LIMITED',
        decision.retryAfterSec === undefined
          ? undefined
          : { headers: { 'retry-after': String(decision.retryAfterSec) } },
      );
    }

    // 8. Body: read under the route's limit; JSON within depth and width limits, then validated.
    function readRequestBody(): Promise<void> | undefined {
      if (deps.admit !== undefined) {
        forward(null);
        return undefined;
      }
      if (hasBody(req)) return readBody(req, route.config.maxBodyBytes).then(forward);
      if (operation?.body?.required === true) {
        refuseInvalid([{ pointer: '/body', message: 'a request body is required' }]);
        return undefined;
      }
      forward(null);
    }

    function forward(body: Buffer | null): undefined {
      if (body !== null) {
        const type = mediaType(req.headers['content-type']);
        if (JSON_TYPE.test(type)) {
          const parsed = parseJsonWithLimits(body.toString('utf8'), {
            maxDepth: runtime.config.limits.maxJsonDepth,
            maxMembers: runtime.config.limits.maxJsonMembers,
          });
          if (!parsed.ok) {
            fail(
              new GatehouseError(
                parsed.reason === 'syntax' ? 'ERR_GATEWAY_VALIDATION_FAILED' : 'ERR_GATEWAY_JSON_LIMIT',
                { detail: parsed.reason },
              ),
            );
            return;
          }
          if (operation?.body !== undefined) {
            const problems = operation.body.validate(parsed.value);
            if (problems.length > 0) {
              refuseInvalid(problems);
              return undefined;
            }
          }
        } else if (
          operation?.body !== undefined &&
          !operation.body.accepts(req.headers['content-type'] ?? '')
        ) {
          fail('ERR_GATEWAY_UNSUPPORTED_MEDIA_TYPE');
          return;
        }
      }

      // 9. Rewrite, and check again that what goes upstream is one canonical path.
      const upstreamPath = rewritePath(route.config, path);
      if (!isCanonicalPath(upstreamPath)) {
        fail('ERR_GATEWAY_PATH_INVALID');
        return;
      }

      // 10. Headers, then the upstream call.
      const headers = buildUpstreamHeaders(req.rawHeaders, {
        clientIp,
        peerIp: socketIp,
        peerTrusted,
        proto: 'encrypted' in req.socket ? 'https' : 'http',
        host,
        requestId,
        traceparent: continueTraceparent(peerTrusted ? singleHeader(req.headers['traceparent']) : undefined),
        authorization: auth?.ok === true ? auth.upstreamAuthorization : undefined,
        allowCookies: route.config.allowCookies,
        certificateHeader: runtime.certificateHeader,
        bodyLength: body === null ? null : body.length,
      });

      // The client left while the request was authenticated or read: nothing goes upstream. (Not
      // req.destroyed: a request whose body was read to the end is destroyed too.)
      if (res.destroyed) return undefined;
      // 11. The upstream: the route's fallback while an alert reroutes it.
      const target =
        route.rerouted !== undefined && deps.reroutes.isRerouted(route.id) ? route.rerouted : route;
      outcome.admitted = true;
      if (deps.admit !== undefined) {
        setRateLimitHeaders();
        outcome.status = deps.admit(res, {
          route,
          upstreamId: target.upstream.id,
          upstreamTarget: query === '' ? upstreamPath : `${upstreamPath}?${query}`,
          headers,
          principal: auth?.ok === true ? auth.principal : undefined,
        });
        return undefined;
      }
      const relay = new ResponseRelay({
        res,
        route: target,
        requestId,
        head: method === 'HEAD',
        policy: { removeHeaders: runtime.removeHeaders, hsts, authenticated: auth !== undefined },
        replaceUpstreamErrors: runtime.config.responses.replaceUpstreamErrors,
        publicOrigin: deps.publicOrigin(),
        outcome,
        extraHeaders: rateLimitHeaders,
        fail: failUpstream,
      });
      call = target.upstream.forward(
        {
          method,
          path: query === '' ? upstreamPath : `${upstreamPath}?${query}`,
          headers,
          body,
          idempotent:
            IDEMPOTENT.has(method) &&
            (body === null || BODYLESS.has(method) || method === 'PUT' || method === 'DELETE'),
        },
        relay,
      );
      relay.call = call;
      return undefined;
    }

    function failUpstream(failure: unknown): void {
      // The client went away: nothing to answer (the access log records 499).
      if (res.destroyed) return;
      const err =
        failure instanceof GatehouseError
          ? failure
          : new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { cause: failure });
      // Code and detail only: causes (socket errors, aborts) are not worth a stack per request.
      deps.logger.warn(
        { code: err.code, detail: err.detail, requestId, route: outcome.route },
        'request failed',
      );
      fail(err);
    }
  };
}

// RFC 9110 §7.2 / RFC 3986 §3.2.2: host [ ":" port ], host a reg-name, IPv4 or IP-literal.
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::\d{1,5})?$/;

/**
 * Refuses what node's parser accepts but a proxy must not forward: HTTP versions other than 1.x,
 * transfer codings other than plain `chunked` (RFC 9112 §6.1: the gateway does not decode them,
 * and HTTP/1.0 has no chunked framing at all), and a Host header that is repeated or is not a
 * host[:port] (RFC 9112 §3.2: 400). HTTP/2 requests have their own rules (http2Problem).
 */
function framingProblem(req: IncomingMessage): string | undefined {
  if (req.httpVersionMajor === 2) return http2Problem(req);
  if (req.httpVersionMajor !== 1 || (req.httpVersionMinor !== 0 && req.httpVersionMinor !== 1))
    return 'version';
  const codings = req.headers['transfer-encoding'];
  if (codings !== undefined) {
    if (req.httpVersionMinor === 0) return 'transfer-encoding on HTTP/1.0';
    if (codings.trim().toLowerCase() !== 'chunked') return 'transfer-encoding';
  }
  return hostProblem(req.rawHeaders, req.headers.host);
}

function hostProblem(raw: readonly string[], host: string | undefined): string | undefined {
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
  }
  if (hosts > 1) return 'duplicate host';
  if (host !== undefined && !HOST_VALUE.test(host)) return 'host';
  return undefined;
}

/**
 * HTTP/2 requests reach the pipeline through node:http2's compatibility classes, which carry what the
 * pipeline reads of an IncomingMessage (method, url, headers, rawHeaders, socket) with the
 * pseudo-header fields among the headers. nghttp2 has refused malformed ones (RFC 9113 §8.1.1); what is
 * left to refuse: a scheme other than the listener's, and a request that names two different hosts or
 * none — `:authority` and `Host` must agree (RFC 9113 §8.3.1), since routing follows one and the
 * upstream could follow the other.
 */
function http2Problem(req: IncomingMessage): string | undefined {
  const headers = req.headers as Record<string, string | string[] | undefined>;
  if (headers[':scheme'] !== 'https') return 'scheme';
  const authority = headers[':authority'] as string | undefined;
  const host = req.headers.host;
  if (authority === undefined && host === undefined) return 'host';
  if (authority !== undefined && host !== undefined && authority.toLowerCase() !== host.toLowerCase())
    return 'authority and host differ';
  return hostProblem(req.rawHeaders, authority ?? host);
}

/** The host the client asked for: Host, or HTTP/2's `:authority` (RFC 9113 §8.3.1). */
function requestHost(req: IncomingMessage): string {
  if (req.httpVersionMajor === 2) {
    const authority = (req.headers as Record<string, string | undefined>)[':authority'];
    if (authority !== undefined) return authority;
  }
  return req.headers.host ?? '';
}

/**
 * The header limits of HTTP/1.1 applied to an HTTP/2 field list: as many fields (pseudo-headers not
 * counted), and as many bytes as the same fields would take as `name: value` lines.
 */
function http2HeadersTooLarge(
  raw: readonly string[],
  limits: { readonly maxHeaderCount: number; readonly maxHeaderBytes: number },
): boolean {
  let fields = 0;
  let bytes = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.charCodeAt(0) !== 58 /* ':' */) fields++;
    bytes += name.length + (raw[i + 1] as string).length + 4;
  }
  return fields > limits.maxHeaderCount || bytes > limits.maxHeaderBytes;
}

/**
 * Every value of one field (lower-case name), from the raw list: HTTP/1.1 names in any case, HTTP/2's
 * lower-case. (Not `headersDistinct`: node builds it for every field of the request on first use.)
 */
function fieldValues(req: IncomingMessage, name: string): string[] | undefined {
  let values: string[] | undefined;
  const raw = req.rawHeaders;
  const http2 = req.httpVersionMajor === 2;
  for (let i = 0; i < raw.length; i += 2) {
    const field = raw[i] as string;
    if (field.length === name.length && (http2 ? field === name : field.toLowerCase() === name))
      (values ??= []).push(raw[i + 1] as string);
  }
  return values;
}

function joinedHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value;
}

function sendValidationProblem(
  res: ServerResponse,
  requestId: string,
  problems: readonly { pointer: string; message: string }[],
  hsts: string | undefined,
): number {
  // The pointers say where the request is wrong; the values are never echoed.
  const response = buildProblemResponse({
    status: 400,
    title: 'Bad Request',
    instance: `urn:gatehouse:request:${requestId}`,
    extensions: { code: 'ERR_GATEWAY_VALIDATION_FAILED', errors: problems.slice(0, 20) },
  });
  const headers: Record<string, string | readonly string[]> = {
    ...response.headers,
    'x-content-type-options': 'nosniff',
    'x-request-id': requestId,
  };
  if (hsts !== undefined) headers['strict-transport-security'] = hsts;
  res.writeHead(400, headers as Record<string, string>);
  res.end(response.body);
  return 400;
}
