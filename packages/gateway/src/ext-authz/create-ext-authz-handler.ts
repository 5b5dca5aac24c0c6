import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { GatehouseError, type Logger } from '@gatehouse/core';
import { canonicalizeTarget } from '../http/canonical-path.js';
import { createRequestId } from '../http/request-id.js';
import { fieldValue } from '../http/request-headers.js';
import { normalizeIp } from '../net/ip-set.js';
import { createRequestHandler, type AdmittedRequest, type PipelineDeps } from '../pipeline/handle-request.js';
import { sendError } from '../pipeline/respond.js';
import { answerAdmitted } from './answer-admitted.js';
import { answerRefusal, refuseAsForbidden } from './nginx-refusal.js';
import { buildOriginalRequestView, readOriginalRequest } from './read-original-request.js';
import type { ExtAuthzConfig } from './schema.js';

export interface ExtAuthzHandlerDeps {
  /** The gateway's own pipeline dependencies: the same routes, authenticator, limiter and bans. */
  readonly pipeline: Omit<PipelineDeps, 'admit'>;
  readonly logger: Logger;
}

interface Check {
  readonly config: ExtAuthzConfig;
  /** The original target as the data plane sent it. */
  readonly target: string;
}

/** Size of a header section as `name: value` lines, as node's parser counts it. */
function headerBytes(raw: readonly string[]): number {
  let bytes = 0;
  for (let i = 0; i < raw.length; i += 2)
    bytes += (raw[i] as string).length + (raw[i + 1] as string).length + 4;
  return bytes;
}

function pathOf(target: string): string {
  const question = target.indexOf('?');
  return question === -1 ? target : target.slice(0, question);
}

/**
 * The external-authorization endpoint (issue 7): the request a data plane describes runs through the
 * gateway's own stages — bans and IP rules, framing, one canonical path, route, content rules, the
 * declared operation and its parameters, authentication and the phantom-token exchange, scopes, rate
 * limits — and is answered instead of proxied: 200 with the internal JWT, or the refusal the gateway
 * would give (in the nginx style wrapped in a 403, see nginx-refusal.ts). A request body is never
 * seen: the data plane enforces its own size limit, and rules on the body are not applied.
 */
export function createExtAuthzHandler(deps: ExtAuthzHandlerDeps): RequestListener {
  // What a check was started with (the configuration may be reloaded while it waits).
  const checks = new WeakMap<ServerResponse, Check>();

  const admit = (res: ServerResponse, admitted: AdmittedRequest): number => {
    const check = checks.get(res) as Check;
    const requestId = fieldValue(admitted.headers, 'x-request-id') ?? createRequestId();
    // Envoy and Traefik forward their own path, not X-Gatehouse-Upstream-Path: what they forward
    // must then be the very string the routes matched (issue 4: one canonical path).
    if (check.config.requireCanonicalPath ?? check.config.style !== 'nginx') {
      const canonical = canonicalizeTarget(check.target);
      if (!canonical.ok || canonical.path !== pathOf(check.target))
        return sendError(
          res,
          new GatehouseError('ERR_GATEWAY_PATH_INVALID', { detail: 'not canonical as sent' }),
          { requestId },
        );
    }
    return answerAdmitted(res, admitted, check.config);
  };
  const pipeline = createRequestHandler({ ...deps.pipeline, admit });

  return (req: IncomingMessage, res: ServerResponse) => {
    // A check has no body. One that announces one is answered, then its connection closed: a body
    // announced and never sent would be read from the next request on it (RFC 9112 §6.3).
    if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
      res.shouldKeepAlive = req.headers['content-length'] === '0';
    const runtime = deps.pipeline.runtime();
    const config = runtime.config.extAuthz;
    const nginx = config?.style === 'nginx';
    const refusalFetch = nginx && pathOf(req.url ?? '') === `${config.path}/refusal`;
    if (nginx && !refusalFetch) refuseAsForbidden(res);
    // Only the data plane may ask: anyone else could probe tokens and routes, or spend other
    // clients' rate limits, by naming them in the fields that describe the original request.
    const peer = normalizeIp(req.socket.remoteAddress ?? '');
    if (!runtime.trustedProxies.contains(peer)) {
      deps.logger.warn({ peer }, 'external-authorization check from a peer not in trustedProxies refused');
      sendError(res, 'ERR_GATEWAY_IP_DENIED', { requestId: createRequestId() });
      return;
    }
    if (config === undefined) {
      sendError(res, 'ERR_GATEWAY_ROUTE_NOT_FOUND', { requestId: createRequestId() });
      return;
    }
    if (refusalFetch) {
      answerRefusal(req, res);
      return;
    }
    const read = readOriginalRequest(req, config);
    if (!read.ok) {
      sendError(
        res,
        read.refusal === 'not-found'
          ? 'ERR_GATEWAY_ROUTE_NOT_FOUND'
          : new GatehouseError('ERR_GATEWAY_BAD_REQUEST', { detail: read.detail }),
        { requestId: createRequestId() },
      );
      return;
    }
    const view = buildOriginalRequestView(req, read.original, read.consumed);
    // The listener's parser allows for the fields a check adds: the original's own must still fit
    // the limit its parser would have held it to (RFC 6585 §5: 431).
    if (headerBytes(view.rawHeaders) > runtime.config.limits.maxHeaderBytes) {
      sendError(res, 'ERR_GATEWAY_HEADERS_TOO_LARGE', { requestId: createRequestId() });
      return;
    }
    checks.set(res, { config, target: read.original.target });
    pipeline(view, res);
  };
}
