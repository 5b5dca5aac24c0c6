import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { ExtAuthzConfig } from './schema.js';

/** The request the data plane is asking about. */
export interface OriginalRequest {
  readonly method: string;
  /** The request target as the client sent it (origin-form expected; checked by the pipeline). */
  readonly target: string;
  /** The Host the client asked for; undefined when the data plane named none. */
  readonly host: string | undefined;
}

export type ReadOriginalResult =
  | {
      readonly ok: true;
      readonly original: OriginalRequest;
      /** Lower-case names of the fields that described the original request (not its own fields). */
      readonly consumed: readonly string[];
    }
  | { readonly ok: false; readonly refusal: 'not-found' | 'bad-request'; readonly detail: string };

/** Traefik's forward-request fields (its forwardAuth documentation, "Forward-Request Headers"). */
const TRAEFIK_FIELDS = ['x-forwarded-method', 'x-forwarded-uri', 'x-forwarded-host', 'x-forwarded-proto'];
/** What the shipped nginx configuration sets on the auth_request subrequest. */
const NGINX_FIELDS = ['x-original-uri', 'x-original-method'];

function notFound(): ReadOriginalResult {
  return { ok: false, refusal: 'not-found', detail: 'not the external-authorization endpoint' };
}

/** The one value of a field, or a reason: absent or repeated fields are refused, never guessed. */
function single(req: IncomingMessage, name: string): string | { missing: string } {
  const values = req.headersDistinct[name];
  if (values === undefined || values.length !== 1 || values[0] === '')
    return { missing: `${values === undefined ? 'missing' : 'repeated or empty'} ${name}` };
  return values[0] as string;
}

function pathOf(url: string): string {
  const question = url.indexOf('?');
  return question === -1 ? url : url.slice(0, question);
}

/**
 * Reads the original request out of a data plane's check request, per style:
 * - nginx `auth_request`: a subrequest to `path` with `X-Original-URI` ($request_uri, as sent) and
 *   `X-Original-Method`; the client's Host as Host.
 * - Envoy `ext_authz` (HTTP service): the original method, the original path and query after the
 *   `path_prefix` (`path`), the original Host.
 * - Traefik `forwardAuth`: a request to `path` with `X-Forwarded-Method`, `X-Forwarded-Uri` and
 *   `X-Forwarded-Host`.
 */
export function readOriginalRequest(req: IncomingMessage, config: ExtAuthzConfig): ReadOriginalResult {
  const url = req.url ?? '';
  const host = req.headersDistinct['host']?.[0];
  if (config.style === 'envoy') {
    if (!url.startsWith(config.path)) return notFound();
    const rest = url.slice(config.path.length);
    if (rest !== '' && !rest.startsWith('/') && !rest.startsWith('?')) return notFound();
    return {
      ok: true,
      original: { method: req.method ?? '', target: rest.startsWith('/') ? rest : `/${rest}`, host },
      consumed: [],
    };
  }
  if (pathOf(url) !== config.path) return notFound();
  const fields = config.style === 'nginx' ? NGINX_FIELDS : TRAEFIK_FIELDS;
  const target = single(req, config.style === 'nginx' ? 'x-original-uri' : 'x-forwarded-uri');
  if (typeof target !== 'string') return { ok: false, refusal: 'bad-request', detail: target.missing };
  const method = single(req, config.style === 'nginx' ? 'x-original-method' : 'x-forwarded-method');
  if (typeof method !== 'string') return { ok: false, refusal: 'bad-request', detail: method.missing };
  let originalHost = host;
  if (config.style === 'traefik') {
    const forwarded = req.headersDistinct['x-forwarded-host'];
    if (forwarded !== undefined && forwarded.length > 1)
      return { ok: false, refusal: 'bad-request', detail: 'repeated x-forwarded-host' };
    originalHost = forwarded?.[0] ?? host;
  }
  return { ok: true, original: { method, target, host: originalHost }, consumed: fields };
}

/**
 * The data plane's socket as the pipeline reads it: its address (the peer the trust decision is made
 * on), without its TLS client certificate. Over mutual TLS that certificate is the data plane's own,
 * never the client's: a token bound to it (RFC 8705 §3) would pass for every client behind the data
 * plane. The client's certificate comes only in `clientCertificateHeader`, set by the data plane.
 */
function withoutPeerCertificate(socket: Socket): Socket {
  if (!('getPeerX509Certificate' in socket)) return socket;
  let view = withoutCertificate.get(socket);
  if (view === undefined) {
    view = Object.create(socket, {
      getPeerCertificate: { value: undefined },
      getPeerX509Certificate: { value: undefined },
    }) as Socket;
    withoutCertificate.set(socket, view);
  }
  return view;
}

/** The certificate-less view of each TLS socket, made once per connection. */
const withoutCertificate = new WeakMap<Socket, Socket>();

/** Fields of the check request that are never the original request's own. */
const NOT_ORIGINAL = new Set(['host', 'content-length', 'transfer-encoding']);

/**
 * The original request as the pipeline reads one: the check request (its socket, so that the peer
 * is the data plane and `X-Forwarded-For` is read as from any trusted proxy; not its certificate)
 * with the original method, target and Host, without the fields that described it, and without a
 * body — a data plane never sends one (nginx `proxy_pass_request_body off`, Envoy and Traefik by
 * default).
 *
 * A plain object with the fields the pipeline reads of a request it answers through `admit` (it
 * never reads that request's body): not an object inheriting from `req`, since making each request
 * a prototype cost V8 about 10 µs per check, more than the rest of the view.
 */
export function buildOriginalRequestView(
  req: IncomingMessage,
  original: OriginalRequest,
  consumed: readonly string[],
): IncomingMessage {
  const skip = new Set([...NOT_ORIGINAL, ...consumed]);
  const rawHeaders: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!skip.has(name.toLowerCase())) rawHeaders.push(name, raw[i + 1] as string);
  }
  // node's own merged fields (its rules for repeated fields), less the ones that described the check.
  const received = req.headers;
  const headers: IncomingMessage['headers'] = {};
  for (const name in received) if (!skip.has(name)) headers[name] = received[name];
  if (original.host !== undefined) {
    rawHeaders.push('Host', original.host);
    headers.host = original.host;
  }
  let headersDistinct: IncomingMessage['headersDistinct'] | undefined;
  const view = {
    method: original.method,
    url: original.target,
    rawHeaders,
    headers,
    // Built when read (the pipeline reads fields from rawHeaders), as node builds its own.
    get headersDistinct(): IncomingMessage['headersDistinct'] {
      if (headersDistinct !== undefined) return headersDistinct;
      headersDistinct = {};
      for (const name in req.headersDistinct)
        if (!skip.has(name)) headersDistinct[name] = req.headersDistinct[name];
      if (original.host !== undefined) headersDistinct['host'] = [original.host];
      return headersDistinct;
    },
    socket: withoutPeerCertificate(req.socket),
    httpVersion: req.httpVersion,
    httpVersionMajor: req.httpVersionMajor,
    httpVersionMinor: req.httpVersionMinor,
    get complete(): boolean {
      return req.complete;
    },
  };
  return view as unknown as IncomingMessage;
}
