import type { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import {
  attachOcspStapling,
  createMetricsRegistry,
  loadTlsServerOptions,
  migrateRevocationFeed,
  migrateToLatest,
  watchTlsFiles,
  type CertificateInfo,
  type MetricsRegistry,
  type TlsReloader,
  type TlsServerOptions,
} from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { registerDiscovery } from './actions/discovery.js';
import { registerJwks } from './actions/jwks.js';
import { registerIntrospect } from './actions/introspect.js';
import { registerRevoke } from './actions/revoke.js';
import { registerToken } from './actions/token.js';
import { createClientAuthenticator } from './clients/authenticate-client.js';
import { CLIENT_CACHE_TTL_MS, createClientStore } from './clients/client-store.js';
import type { AuthServerDeps } from './context.js';
import { authServerMigrations } from './db/migrations.js';
import { createApp } from './http/create-app.js';
import { registerInteractionActions } from './interaction/register.js';
import { createKeyService } from './keys/key-service.js';
import { createCertificateReader } from './mtls/create-certificate-reader.js';
import { loadTrustAnchors, parsePemCertificates } from './mtls/load-trust-anchors.js';
import type { PkiTrust } from './mtls/verify-client-certificate.js';
import { createAuthServerMetrics } from './observability/auth-server-metrics.js';
import { checkReadiness } from './observability/check-readiness.js';
import { countAuditEvents } from './observability/count-audit-events.js';
import { observeRequests } from './observability/observe-requests.js';
import { registerSigningKeysGauge } from './observability/signing-keys-gauge.js';
import { buildEndpoints, type AuthServerServices } from './services.js';

export interface AuthServer {
  readonly app: FastifyInstance;
  readonly services: AuthServerServices;
  /** Listens on `config.listen` (port 0: any free port); resolves the bound URL (https with `listen.tls`). */
  listen(): Promise<string>;
  /**
   * Re-reads `listen.tls` files now (the entry point calls it on SIGHUP; file changes are picked up
   * by themselves). True when the new certificate is in force; false without TLS or when refused.
   */
  reloadTls(): Promise<boolean>;
  /** The auth server's series (`deps.metrics`, else its own registry), for the admin listener's `/metrics`. */
  readonly metrics: MetricsRegistry;
  /**
   * Records the certificate a TLS listener serves in `gatehouse_tls_certificate_expiry_seconds`
   * (the issuer's listener reports itself as `issuer`; `gatehouse auth-server` adds `admin`).
   */
  recordCertificate(listener: string, info: CertificateInfo): void;
  /** Whether the database answers and an active signing key is loaded (the admin listener's `/readyz`). */
  ready(): Promise<boolean>;
  /** Stops accepting requests, finishes those in flight, stops the key scheduler. */
  close(): Promise<void>;
}

/** Runs the authorization server's migrations (safe with several instances starting together). */
export async function migrateAuthServer(db: Kysely<unknown>): Promise<readonly string[]> {
  const applied = await migrateToLatest(db, 'auth_server', authServerMigrations);
  // The revocation feed (core) keeps its own history: gateways reading it migrate it too.
  return [...applied, ...(await migrateRevocationFeed(db))];
}

/**
 * The longest lifetime of anything the server signs: a demoted key stays published at least this
 * long, so no token valid at issuance fails verification because of rotation.
 */
async function maxTokenLifetimeSec(deps: AuthServerDeps): Promise<number> {
  const { tokens, resources } = deps.config;
  const row = await deps.db
    .selectFrom('clients')
    .select((eb) => eb.fn.max<number | null>('access_token_ttl_sec').as('longest'))
    .executeTakeFirst();
  return Math.max(
    tokens.accessTokenTtlSec,
    tokens.idTokenTtlSec,
    tokens.exchangeTtlSec,
    ...resources.map((r) => r.accessTokenTtlSec ?? 0),
    row?.longest ?? 0,
  );
}

/** The listener CA (`ca` of the TLS options in force) as parsed certificates, re-parsed after a reload. */
function listenerAnchors(): (ca: TlsServerOptions['ca']) => X509Certificate[] {
  let last: TlsServerOptions['ca'];
  let anchors: X509Certificate[] = [];
  return (ca) => {
    if (ca !== last) {
      last = ca;
      // Without caFile the listener trusts nothing (core passes an empty list).
      const empty = ca === undefined || (Array.isArray(ca) && ca.length === 0);
      anchors = empty ? [] : parsePemCertificates(ca, 'listen.tls.caFile');
    }
    return anchors;
  };
}

/**
 * Builds the authorization server on its dependencies: migrates the database, prepares the
 * signing keys and registers every endpoint under the issuer's path. With `listen.tls` the files
 * are read now (an unusable one fails here, not at the first handshake) and then watched.
 */
export async function createAuthServer(given: AuthServerDeps): Promise<AuthServer> {
  const { config } = given;
  const metrics = given.metrics ?? createMetricsRegistry();
  const authServerMetrics = createAuthServerMetrics(metrics);
  // Every part of the server audits through these deps: each security decision is counted where
  // it is audited (observability/count-audit-events.ts).
  const deps: AuthServerDeps = { ...given, audit: countAuditEvents(given.audit, authServerMetrics) };
  const baseDir = deps.baseDir ?? process.cwd();
  const tls = config.listen.tls;
  const tlsOptions = tls === undefined ? undefined : loadTlsServerOptions(tls, baseDir);
  // RFC 8705 §2.1: the CAs of tls_client_auth: mtls.caFile, else the listener's own client CAs.
  const mtlsAnchors =
    config.mtls.caFile === undefined ? undefined : loadTrustAnchors(config.mtls.caFile, baseDir);
  await migrateAuthServer(deps.db as Kysely<unknown>);
  const issuerPath = new URL(config.issuer).pathname.replace(/\/$/, '');
  const clients = createClientStore(deps, { cacheTtlMs: CLIENT_CACHE_TTL_MS });
  const keys = createKeyService(deps, () => maxTokenLifetimeSec(deps));
  registerSigningKeysGauge(metrics, keys);

  const app = createApp({ logger: deps.logger, https: tlsOptions });
  observeRequests(app, authServerMetrics, issuerPath);
  let reloader: TlsReloader | undefined;
  const anchorsOf = listenerAnchors();
  const pki = (): PkiTrust =>
    mtlsAnchors !== undefined
      ? { anchors: mtlsAnchors, listenerVerified: false }
      : { anchors: anchorsOf((reloader?.current() ?? tlsOptions)?.ca), listenerVerified: true };
  const services: AuthServerServices = {
    deps,
    endpoints: buildEndpoints(config.issuer),
    keys,
    clients,
    authenticateClient: createClientAuthenticator(deps, clients, { pki }),
    readCertificate: createCertificateReader(deps),
  };

  registerDiscovery(app, services, issuerPath);
  registerJwks(app, services, issuerPath);
  registerToken(app, services, issuerPath);
  registerIntrospect(app, services, issuerPath);
  registerRevoke(app, services, issuerPath);
  registerInteractionActions(app, services, issuerPath);
  // The admin API is not on the issuer: see admin/create-admin-app.ts (its own listener, admin.listen).

  if (tls !== undefined) {
    const server = app.server as unknown as TlsServer;
    attachOcspStapling(server, tls, baseDir);
    // New handshakes get a replaced certificate; established connections keep theirs.
    reloader = watchTlsFiles(server, tls, baseDir, {
      logger: deps.logger,
      onReload: (info) => authServerMetrics.certificateLoaded('issuer', info),
    });
  }

  await clients.start();
  try {
    await keys.start();
  } catch (err) {
    reloader?.close();
    await clients.stop();
    throw err;
  }
  return {
    app,
    services,
    async listen() {
      await app.listen({ host: config.listen.host, port: config.listen.port });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `${tls === undefined ? 'http' : 'https'}://${host}:${address.port}`;
    },
    reloadTls: () => reloader?.reload() ?? Promise.resolve(false),
    metrics,
    recordCertificate: (listener, info) => authServerMetrics.certificateLoaded(listener, info),
    ready: () => checkReadiness(deps.db, keys),
    async close() {
      reloader?.close();
      await keys.stop();
      await app.close();
      await clients.stop();
    },
  };
}
