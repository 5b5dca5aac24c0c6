import { join } from 'node:path';
import type { DeploymentConfigInput } from '../config/deployment-schema.js';
import { SERVICE_NAMES, type ServiceName, type Stack } from './load-stack.js';

/** What `gatehouse init` generated once for a data dir and every later run reuses. */
export interface StackSecrets {
  readonly adminToken: string;
  readonly gatewayClient: { readonly clientId: string; readonly clientSecret: string };
  readonly bffClient: { readonly clientId: string; readonly clientSecret: string };
  /** AES-256-GCM key of the BFF's tokens at rest (base64url), so sessions survive a restart. */
  readonly bffSessionKey: string;
}

/** Files of the development PKI in the data dir. */
export function pkiFiles(dataDir: string) {
  const pki = join(dataDir, 'pki');
  const pair = (name: string) => ({ cert: join(pki, `${name}.pem`), key: join(pki, `${name}-key.pem`) });
  return {
    folder: pki,
    ca: pair('ca'),
    /** The listeners' certificate with `--tls` (SAN localhost and the stack's address). */
    server: pair('server'),
    gateway: pair('gateway'),
    accounts: pair('accounts'),
    orders: pair('orders'),
  };
}

/** SAN URI of a service's server certificate, checked by the gateway (mTLS both ways). */
export const serviceIdentity = (name: ServiceName): string => `spiffe://gatehouse.local/${name}`;

/** The gateway's own audience (RFC 8707 resource indicator): its public URL. */
export const gatewayAudience = (stack: Stack): string => stack.urls.gateway;

/** Scopes the demo grants through the gateway, by service. */
function allScopes(stack: Stack): string[] {
  return [...new Set(SERVICE_NAMES.flatMap((name) => stack.config.services[name].scopes))];
}

/**
 * Coarse scopes per method at the gateway (issue 4): reads need `:read`, changes `:write`; the
 * services check again, with object-level rules on top.
 */
function routeScopes(scopes: readonly string[]): Record<string, string[]> {
  const read = scopes.filter((scope) => scope.endsWith(':read'));
  const write = scopes.filter((scope) => scope.endsWith(':write'));
  return { GET: read, HEAD: read, POST: write, PATCH: write };
}

/**
 * The complete deployment of the demo stack, written to `<dataDir>/gatehouse.yaml`: every
 * component (`gatehouse auth-server|gateway|bff --config FILE`) reads it, so each can also be run
 * on its own. Pure data: `init` writes it.
 */
export function buildStackDeployment(stack: Stack, secrets: StackSecrets): DeploymentConfigInput {
  const { host, ports, urls, config } = stack;
  const pki = pkiFiles(stack.dataDir);
  const api = gatewayAudience(stack);
  // --tls: every listener on the development CA's server certificate (TLS 1.2+, core's defaults).
  const tls = stack.tls ? { tls: { certFile: pki.server.cert, keyFile: pki.server.key } } : {};
  const upstream = (name: ServiceName) => ({
    targets: [`https://${host}:${ports[name]}`],
    tls: {
      certFile: pki.gateway.cert,
      keyFile: pki.gateway.key,
      caFile: pki.ca.cert,
      identity: { uri: serviceIdentity(name) },
    },
    healthCheck: { path: '/public/status', intervalMs: 5000 },
  });
  const serviceRoutes = SERVICE_NAMES.flatMap((name) =>
    config.services[name].paths.map((path) => {
      const admin = path === '/api/admin';
      return {
        id: path.slice(1).replaceAll('/', '-'),
        match: { pathPrefix: path },
        upstream: name,
        auth: 'any' as const,
        audience: config.services[name].audience,
        // OWASP API5: admin endpoints need the admin scope at the gateway, the role at the service.
        scopes: admin ? { GET: ['admin'] } : routeScopes(config.services[name].scopes),
        openapi: stack.openapiFile,
      };
    }),
  );
  return {
    dataDir: stack.dataDir,
    log: { level: config.log.level },
    admin: { listen: { host, port: ports.authServerAdmin, ...tls }, token: secrets.adminToken },
    authServer: {
      issuer: urls.issuer,
      listen: { host, port: ports.authServer, ...tls },
      resources: [
        { id: api, scopes: allScopes(stack) },
        ...SERVICE_NAMES.map((name) => ({
          id: config.services[name].audience,
          scopes: config.services[name].scopes,
          // The services decide on the admin role from the token (RFC 9068 §7.2.1.1 `roles`).
          includeRoles: true,
        })),
      ],
    },
    gateway: {
      listen: { host, port: ports.gateway, ...tls },
      publicUrl: urls.gateway,
      admin: { listen: { host, port: ports.gatewayAdmin, ...tls } },
      // RFC 6797 §7.2: no Strict-Transport-Security over plain HTTP (the loopback demo).
      responses: { hsts: urls.gateway.startsWith('https:') ? 'max-age=31536000; includeSubDomains' : false },
      auth: {
        issuer: urls.issuer,
        audience: [api],
        clientId: secrets.gatewayClient.clientId,
        clientSecret: secrets.gatewayClient.clientSecret,
      },
      upstreams: { accounts: upstream('accounts'), orders: upstream('orders') },
      // Brute-force bans, detectors and alert rules of the stack file (else the gateway's defaults).
      ...config.gateway,
      routes: [
        {
          id: 'status',
          match: { path: '/public/status', methods: ['GET', 'HEAD'] },
          upstream: 'accounts',
          auth: 'none',
          openapi: stack.openapiFile,
        },
        ...serviceRoutes,
      ],
    },
    bff: {
      publicUrl: urls.bff,
      listen: { host, port: ports.bff, ...tls },
      oidc: {
        issuer: urls.issuer,
        clientId: secrets.bffClient.clientId,
        clientSecret: secrets.bffClient.clientSecret,
        scopes: ['openid', 'profile', ...allScopes(stack)],
        resource: api,
      },
      gateway: { url: urls.gateway },
      session: {
        sqliteFile: join(stack.dataDir, 'bff-sessions.db'),
        encryptionKey: secrets.bffSessionKey,
      },
      staticDir: stack.appDir,
      admin: { token: secrets.adminToken },
    },
  };
}

/** The JSON file a demo service reads (`examples/service-kit` `loadServiceConfig`). */
export function buildServiceConfig(stack: Stack, name: ServiceName): Record<string, unknown> {
  const pki = pkiFiles(stack.dataDir);
  const own = name === 'accounts' ? pki.accounts : pki.orders;
  return {
    host: stack.host,
    port: stack.ports[name],
    tls: { certFile: own.cert, keyFile: own.key, caFile: pki.ca.cert },
    gatewayIdentity: stack.config.gatewayIdentity,
    issuer: stack.urls.issuer,
    jwksUri: `${stack.urls.issuer}/jwks`,
    audience: stack.config.services[name].audience,
    databaseFile: join(stack.dataDir, `${name}.db`),
    logLevel: stack.config.log.level,
  };
}
