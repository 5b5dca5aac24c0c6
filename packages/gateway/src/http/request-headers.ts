/** What the gateway knows about a request when it builds the upstream headers. */
export interface ForwardContext {
  /** The client, as resolved by `resolveClientIp`. */
  clientIp: string;
  /** The socket peer is in `trustedProxies`. */
  peerTrusted: boolean;
  /**
   * The socket peer (normalized). Our hop in `Forwarded`/`X-Forwarded-For` names the node that connected to us
   * (RFC 7239 §5.2); defaults to `clientIp`, which is the same address whenever the peer is not trusted.
   */
  peerIp?: string;
  proto: 'http' | 'https';
  /** The `Host` the client asked for. */
  host: string;
  requestId: string;
  traceparent: string;
  /** The `Authorization` the gateway forwards (e.g. the phantom token's internal JWT); none when undefined. */
  authorization: string | undefined;
  allowCookies: boolean;
  /** `clientCertificateHeader` (lower-case), consumed by the gateway and never forwarded. */
  certificateHeader?: string | undefined;
  /**
   * The length of the body the gateway sends, which replaces the client's `Content-Length`; `null`
   * when it sends none (and no `Content-Length`). Not given: the client's field goes as received.
   */
  bodyLength?: number | null;
}

const DROP = 1; // never forwarded as received
const COOKIE = 2;
const FROM_TRUSTED_PEER = 3; // forwarded only when the peer is a trusted proxy
const TRACEPARENT = 4;
const TRACESTATE = 5;

const CATEGORY = new Map<string, number>([
  // RFC 9110 §7.6.1: hop-by-hop; §11.7: Proxy-Authenticate/-Authorization are for the next hop only.
  ['connection', DROP],
  ['keep-alive', DROP],
  ['proxy-connection', DROP],
  ['proxy-authenticate', DROP],
  ['proxy-authorization', DROP],
  ['te', DROP],
  ['trailer', DROP],
  ['transfer-encoding', DROP],
  ['upgrade', DROP],
  // The proxy sets Host; the gateway answered `Expect: 100-continue` itself (and undici refuses it).
  ['host', DROP],
  ['expect', DROP],
  // Method overrides would let a framework behind the gateway turn an allowed GET into a DELETE
  // after the gateway checked the method and its scopes.
  ['x-http-method-override', DROP],
  ['x-http-method', DROP],
  ['x-method-override', DROP],
  // External credentials never reach a service: the gateway forwards its own `Authorization`.
  ['authorization', DROP],
  ['dpop', DROP],
  // RFC 9440 §2 (and §4): the client certificate of a TLS hop is this gateway's to read, never a
  // client's to claim to a service (`clientCertificateHeader`, when named otherwise, too).
  ['client-cert', DROP],
  ['client-cert-chain', DROP],
  // Set by the gateway from what it resolved, whoever the peer is.
  ['x-forwarded-proto', DROP],
  ['x-forwarded-host', DROP],
  ['x-request-id', DROP],
  ['cookie', COOKIE],
  ['forwarded', FROM_TRUSTED_PEER],
  ['x-forwarded-for', FROM_TRUSTED_PEER],
  ['x-real-ip', FROM_TRUSTED_PEER],
  ['traceparent', TRACEPARENT],
  ['tracestate', TRACESTATE],
]);

function categorize(name: string): number {
  const category = CATEGORY.get(name);
  if (category !== undefined) return category;
  // HTTP/2 pseudo-header fields (RFC 9113 §8.3) describe this hop's request; the upstream call has its own.
  if (name.charCodeAt(0) === 58 /* ':' */) return DROP;
  if (name.startsWith('x-gatehouse-')) return DROP; // the gateway's identity namespace
  if (name.startsWith('x-forwarded-')) return FROM_TRUSTED_PEER;
  return 0;
}

/** RFC 9110 §5.6.2 tchar (indexes 0..127). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
  TCHAR[c.charCodeAt(0)] = 1;
const QUOTED_PAIR = /["\\]/g;

/** RFC 7239 §4: a value is a token or a quoted-string (RFC 9110 §5.6.4). */
function formatForwardedValue(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (TCHAR[value.charCodeAt(i)] !== 1) return `"${value.replace(QUOTED_PAIR, '\\$&')}"`;
  }
  return value;
}

/**
 * The last `Host` formatted for `Forwarded` and its form: a gateway sees the same few hosts, and
 * one with a port (`:` is not a tchar) is a quoted string built with a regular expression.
 */
let lastHost = '';
let lastHostFormatted = '';
function formatForwardedHost(host: string): string {
  if (host !== lastHost) {
    lastHostFormatted = formatForwardedValue(host);
    lastHost = host;
  }
  return lastHostFormatted;
}

/** RFC 7239 §6: IPv6 nodes are bracketed and quoted; an unknown peer is `unknown`. */
function formatForwardedNode(ip: string): string {
  if (ip === '') return 'unknown';
  return ip.includes(':') ? `"[${ip}]"` : formatForwardedValue(ip);
}

/** The names listed in `Connection` headers, lower-cased (RFC 9110 §7.6.1), or undefined when none. */
function readConnectionOptions(rawHeaders: readonly string[]): Set<string> | undefined {
  let options: Set<string> | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] ?? '';
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    const value = rawHeaders[i + 1] ?? '';
    // The usual value names only Keep-Alive, which is always dropped as hop-by-hop.
    if (value.toLowerCase() === 'keep-alive') continue;
    for (const option of value.split(',')) {
      const trimmed = option.trim().toLowerCase();
      if (trimmed !== '') (options ??= new Set()).add(trimmed);
    }
  }
  return options;
}

/** The value of field `name` (lower-case) in a list built by `buildUpstreamHeaders`. */
export function fieldValue(headers: readonly string[], name: string): string | undefined {
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === name) return headers[i + 1];
  return undefined;
}

/** Joins `value` to a field kept apart from the list (repeated lines, RFC 9110 §5.3). */
function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/**
 * Adds a field to the flat list, or joins it to the line of the same name already there. A list
 * stays cheap to build and to hand to undici; the scan is bounded by the header count limit.
 */
function addField(headers: string[], name: string, value: string, separator: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === name) {
      headers[i + 1] = `${headers[i + 1] as string}${separator}${value}`;
      return;
    }
  }
  headers.push(name, value);
}

/**
 * The headers sent upstream, as a flat list `[name, value, …]` with lower-case names, each once,
 * from `req.rawHeaders`. Drops hop-by-hop headers and those named in `Connection`, the client's
 * credentials, the gateway's own namespace and — unless the peer is a trusted proxy — any forwarding
 * or tracing header, then sets `Forwarded` (RFC 7239), `X-Forwarded-*`, `X-Request-Id` and
 * `traceparent` from `ctx`. Repeated headers are joined with `, `; `Cookie` with `; ` (RFC 6265
 * §5.4 allows one Cookie header; RFC 9113 §8.2.3 joins cookie crumbs the same way).
 */
export function buildUpstreamHeaders(rawHeaders: readonly string[], ctx: ForwardContext): string[] {
  const headers: string[] = [];
  const connectionOptions = readConnectionOptions(rawHeaders);
  const bodyLength = ctx.bodyLength;
  let incomingTraceparent: string | undefined;
  // The fields the gateway appends its hop to, or may drop at the end, are kept apart.
  let forwarded: string | undefined;
  let forwardedFor: string | undefined;
  let tracestate: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] ?? '').toLowerCase();
    const value = rawHeaders[i + 1] ?? '';
    const category = categorize(name);
    if (category === DROP || name === ctx.certificateHeader) continue;
    if (category === COOKIE && !ctx.allowCookies) continue;
    if (category !== 0 && category !== COOKIE && !ctx.peerTrusted) continue;
    if (category === TRACEPARENT) {
      incomingTraceparent = value;
      continue;
    }
    // Content-Length frames the body, which the gateway forwards: a client cannot have it removed.
    if (connectionOptions?.has(name) === true && name !== 'content-length') continue;
    if (name === 'content-length' && bodyLength !== undefined) continue;
    if (category === TRACESTATE) tracestate = join(tracestate, value);
    else if (name === 'forwarded') forwarded = join(forwarded, value);
    else if (name === 'x-forwarded-for') forwardedFor = join(forwardedFor, value);
    else addField(headers, name, value, category === COOKIE ? '; ' : ', ');
  }

  // W3C Trace Context §3.3: tracestate belongs to the trace it came with; a new trace starts without it.
  if (tracestate !== undefined && incomingTraceparent?.slice(3, 35) === ctx.traceparent.slice(3, 35)) {
    headers.push('tracestate', tracestate);
  }

  const peer = ctx.peerIp ?? ctx.clientIp;
  let hop = `for=${formatForwardedNode(peer)}`;
  if (ctx.host !== '') hop += `;host=${formatForwardedHost(ctx.host)}`;
  hop += `;proto=${ctx.proto}`;
  // RFC 7239 §4 / de-facto X-Forwarded-For: each proxy appends its hop; only a trusted peer's list is kept.
  headers.push('forwarded', join(forwarded, hop), 'x-forwarded-for', join(forwardedFor, peer));
  headers.push('x-forwarded-proto', ctx.proto);
  if (ctx.host !== '') headers.push('x-forwarded-host', ctx.host);
  headers.push('x-request-id', ctx.requestId, 'traceparent', ctx.traceparent);
  if (ctx.authorization !== undefined) headers.push('authorization', ctx.authorization);
  if (typeof bodyLength === 'number') headers.push('content-length', String(bodyLength));
  return headers;
}
