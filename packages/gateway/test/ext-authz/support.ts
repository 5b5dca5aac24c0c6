import { request, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import type { CertificateAndKey, TlsListenerInput } from '@gatehouse/core';
import type { GatewayConfigInput } from '../../src/index.js';
import { PATH_MAX_URL } from '../attacks/path-cases.js';
import { ACCOUNTS, API, type TestAuthServer, type TestClient } from '../support/auth-server.js';
import { accountsRoute, publicRoute } from '../support/routes.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

/** The three data planes whose check requests the endpoint reads (config `extAuthz.style`). */
export type Style = 'nginx' | 'envoy' | 'traefik';
export const STYLES: readonly Style[] = ['nginx', 'envoy', 'traefik'];

export const CHECK_PATH = '/_gatehouse/ext-authz';

/**
 * The routes every ext-authz suite checks against: `/public` (no auth; a deny rule on
 * `/public/internal`), `/api/accounts` (any token for ACCOUNTS, scopes per method, rewritten to
 * `/accounts`) and `/api/limited` (no auth, 2 requests a minute per client address).
 */
export function extAuthzRoutes(): Pick<GatewayConfigInput, 'routes'> {
  return {
    routes: [
      publicRoute(),
      accountsRoute({
        auth: 'any',
        audience: ACCOUNTS,
        scopes: { GET: ['accounts:read'], POST: ['accounts:write'] },
        methods: ['GET', 'POST'],
      }),
      {
        id: 'limited',
        match: { pathPrefix: '/api/limited' },
        upstream: 'app',
        auth: 'none',
        rateLimits: [{ id: 'tight', limit: 2, windowSec: 60, key: ['ip'] }],
      },
    ],
  };
}

export interface ExtAuthzGatewayOptions {
  readonly style: Style;
  /** The gateway's own upstream `app` (a data plane in front proxies; the gateway never calls it). */
  readonly appUrl: string;
  /** More of `extAuthz` than the style and a listener on port 0. */
  readonly extAuthz?: { readonly tokenHeader?: string };
  /** `extAuthz.listen.tls`: the check endpoint over HTTPS (paths relative to `baseDir`). */
  readonly tls?: TlsListenerInput;
  /** Folder the gateway resolves relative paths from (its configuration file's). */
  readonly baseDir?: string;
  /** Other gateway settings. */
  readonly config?: Partial<GatewayConfigInput>;
}

/**
 * The gateway every ext-authz suite checks against: the external-authorization listener of
 * `style` on port 0, the data plane on 127.0.0.1 its only trusted proxy, `as` its authorization
 * server (state and clock shared), and `extAuthzRoutes()`.
 */
export function startExtAuthzGateway(
  as: TestAuthServer,
  gatewayClient: TestClient,
  options: ExtAuthzGatewayOptions,
): Promise<StartedGateway> {
  return startGateway(
    {
      ...options.config,
      trustedProxies: ['127.0.0.1'],
      extAuthz: {
        style: options.style,
        listen: {
          host: '127.0.0.1',
          port: 0,
          ...(options.tls === undefined ? {} : { tls: options.tls }),
        },
        ...options.extAuthz,
      },
      limits: { ...options.config?.limits, maxUrlLength: PATH_MAX_URL },
      auth: {
        issuer: as.issuer,
        audience: [API],
        clientId: gatewayClient.clientId,
        clientSecret: gatewayClient.clientSecret,
      },
      upstreams: { app: { targets: [options.appUrl] } },
      ...extAuthzRoutes(),
    },
    {
      state: as.state,
      now: as.clock.now,
      ...(options.baseDir === undefined ? {} : { baseDir: options.baseDir }),
    },
  );
}

/** The request a client sent to the data plane. */
export interface OriginalCall {
  readonly method?: string;
  readonly target: string;
  readonly host?: string;
  /** The client's address as the data plane saw it (X-Forwarded-For). */
  readonly clientIp?: string;
  /** The client's own fields (Authorization, DPoP…), passed on by every data plane. */
  readonly headers?: Readonly<Record<string, string | string[]>>;
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The check request each data plane makes for `call` (per their documentation; see docs/ext-authz.md). */
export function buildCheck(
  style: Style,
  call: OriginalCall,
): { method: string; path: string; headers: Record<string, string | string[]> } {
  const method = call.method ?? 'GET';
  const host = call.host ?? 'api.example.test';
  const client = { ...call.headers, 'x-forwarded-for': call.clientIp ?? '192.0.2.10' };
  switch (style) {
    case 'nginx':
      // auth_request: a GET subrequest, the original in proxy_set_header fields.
      return {
        method: 'GET',
        path: CHECK_PATH,
        headers: { ...client, host, 'x-original-uri': call.target, 'x-original-method': method },
      };
    case 'envoy':
      // ext_authz http_service: the original method, path_prefix + the original path and query.
      return { method, path: `${CHECK_PATH}${call.target}`, headers: { ...client, host } };
    case 'traefik':
      // forwardAuth: a GET to the address, the original in X-Forwarded-* fields.
      return {
        method: 'GET',
        path: CHECK_PATH,
        headers: {
          ...client,
          host: 'gatehouse.internal:9191',
          'x-forwarded-method': method,
          'x-forwarded-proto': 'https',
          'x-forwarded-host': host,
          'x-forwarded-uri': call.target,
        },
      };
  }
}

/** The data plane's side of a TLS check listener: what it trusts, and its own certificate. */
export interface CheckTls {
  /** PEM of the CA the data plane trusts for the gateway's certificate (nothing else). */
  readonly ca: string;
  /** The data plane's client certificate (mutual TLS). */
  readonly client?: CertificateAndKey;
  /** Local address to connect from (default: the system's choice, 127.0.0.1 on loopback). */
  readonly localAddress?: string;
}

/**
 * One HTTP/1.1 request on a fresh connection (node:http: any method, Host and target); over TLS
 * (node:https, a new handshake) when `baseUrl` is https://.
 */
export function send(
  baseUrl: string,
  method: string,
  path: string,
  headers: Readonly<Record<string, string | string[]>>,
  tls?: CheckTls,
): Promise<Answer> {
  const url = new URL(baseUrl);
  const secure = url.protocol === 'https:';
  if (secure && tls === undefined) throw new Error('an https:// check needs the CA it trusts');
  const connection = {
    host: url.hostname,
    port: url.port,
    ...(tls?.localAddress === undefined ? {} : { localAddress: tls.localAddress }),
    ...(secure && tls !== undefined
      ? {
          ca: tls.ca,
          // The certificate is checked against the URL's host, never the Host field of the check
          // (the client's): no SNI for an address (RFC 6066 §3).
          servername: isIP(url.hostname) === 0 ? url.hostname : '',
          ...(tls.client === undefined ? {} : { cert: tls.client.certPem, key: tls.client.keyPem }),
        }
      : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : request)(
      { ...connection, method, path, headers, agent: false, setHost: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The check answer the data plane gets (over TLS with `tls`). */
export function check(baseUrl: string, style: Style, call: OriginalCall, tls?: CheckTls): Promise<Answer> {
  const built = buildCheck(style, call);
  return send(baseUrl, built.method, built.path, built.headers, tls);
}

/**
 * What the data plane's client gets: Envoy and Traefik forward a refusal as it is; nginx, configured
 * as deploy/nginx/gatehouse-auth-request.conf, fetches the refusal a 403 carries from `/refusal`.
 */
export async function clientAnswer(baseUrl: string, style: Style, call: OriginalCall): Promise<Answer> {
  const answer = await check(baseUrl, style, call);
  if (style !== 'nginx' || answer.status !== 403) return answer;
  const refusal = answer.headers['x-gatehouse-refusal'];
  return send(
    baseUrl,
    'GET',
    `${CHECK_PATH}/refusal`,
    typeof refusal === 'string' ? { host: 'x', 'x-gatehouse-refusal': refusal } : { host: 'x' },
  );
}

export function problemCode(answer: Answer): unknown {
  try {
    return (JSON.parse(answer.body) as Record<string, unknown>)['code'];
  } catch {
    return undefined;
  }
}
