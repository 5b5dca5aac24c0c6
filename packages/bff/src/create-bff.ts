import { randomBytes } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  GatehouseError,
  attachOcspStapling,
  createLogger,
  loadTlsServerOptions,
  migrateToLatest,
  openSqlDatabase,
  watchTlsFiles,
  type AuditSink,
  type Logger,
  type TlsReloader,
} from '@gatehouse/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import type { BffConfig } from './config/bff-config-schema.js';
import { createAudit, type BffContext } from './context.js';
import { sendProblem } from './errors.js';
import { buildCookieSettings } from './http/cookies.js';
import { createLogoutHandoff } from './http/logout-handoff.js';
import { registerCors } from './http/cors.js';
import { checkCsrf, createOriginPolicy, isUnsafeMethod } from './http/origin-policy.js';
import { buildSecurityHeaders } from './http/security-headers.js';
import { createOidcClient } from './oidc/oidc-client.js';
import { registerRelay } from './relay/register-relay.js';
import { registerAdminSessions } from './routes/admin-sessions.js';
import { registerBackchannelLogout } from './routes/backchannel-logout.js';
import { registerCallback } from './routes/callback.js';
import { registerHealth } from './routes/health.js';
import { registerLogin } from './routes/login.js';
import { registerLogout } from './routes/logout.js';
import { registerSessionInfo } from './routes/session.js';
import { BFF_MIGRATIONS, type BffDatabase } from './sessions/migrations.js';
import { createRedisSessionStore } from './sessions/redis-session-store.js';
import { createSessionManager } from './sessions/session-manager.js';
import type { SessionMatch, SessionStore, SessionSummary } from './sessions/session-store.js';
import { createSqlSessionStore } from './sessions/sql-session-store.js';
import { registerStatic } from './static/register-static.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route is not cookie-authenticated, so the CSRF check does not apply. */
    csrf?: boolean;
  }
}

export interface CreateBffOptions {
  /** From `buildBffConfig`. */
  readonly config: BffConfig;
  readonly logger?: Logger;
  readonly audit?: AuditSink;
  /** Clock in epoch ms (tests move it by hand). */
  readonly now?: () => number;
  /** Another store (e.g. Redis); default SQL per `config.session`. */
  readonly sessionStore?: SessionStore;
  /** `NODE_ENV=production` at the entry point: plain-HTTP development settings refuse to start. */
  readonly production?: boolean;
  /** Folder the `listen.tls` file paths are relative to (the configuration file's; default: cwd). */
  readonly baseDir?: string;
}

/** Session administration for the CLI and operators. */
export interface BffSessionAdmin {
  list(sub: string): Promise<readonly SessionSummary[]>;
  /** Ends the matching sessions and revokes their refresh tokens at the OP; resolves how many. */
  revoke(match: SessionMatch): Promise<number>;
}

export interface Bff {
  readonly app: FastifyInstance;
  readonly sessions: BffSessionAdmin;
  /** Listens on `config.listen`; resolves the bound URL (https:// with `listen.tls`). */
  listen(): Promise<string>;
  /**
   * Re-reads the `listen.tls` certificate files (SIGHUP; they are also watched). Resolves false
   * when they were refused (the previous certificate stays), true otherwise or without TLS.
   */
  reloadCertificates(): Promise<boolean>;
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * The Backend-for-Frontend (OAuth 2.0 for Browser-Based Applications §6.1): OIDC login as a
 * confidential client, server-side sessions behind an HttpOnly cookie, CSRF and CORS checks,
 * security headers, and the token relay to the gateway.
 */
export async function createBff(options: CreateBffOptions): Promise<Bff> {
  const { config } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createLogger({ component: 'bff' });
  const secure = new URL(config.publicUrl).protocol === 'https:';
  const insecureIssuer = new URL(config.oidc.issuer).protocol === 'http:';
  if (options.production === true && (!secure || insecureIssuer)) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: 'plain-HTTP publicUrl or issuer is for loopback development only, not production',
    });
  }
  const baseDir = options.baseDir ?? process.cwd();
  const tlsConfig = config.listen.tls;
  // Read and checked before any store is opened: unusable files fail the start with nothing to undo.
  const https = tlsConfig === undefined ? undefined : loadTlsServerOptions(tlsConfig, baseDir);
  if (!secure) {
    logger.warn(
      { publicUrl: config.publicUrl },
      'BFF on plain HTTP (loopback development): session cookie without Secure and __Host-',
    );
  }

  // One key seals tokens at rest and the logout handoff; configured, every instance shares it.
  const configuredKey =
    config.session.encryptionKey === undefined
      ? undefined
      : Buffer.from(config.session.encryptionKey, 'base64url');
  const sessionKey = configuredKey ?? randomBytes(32);
  let store = options.sessionStore;
  if (store === undefined && config.session.redisUrl !== undefined) {
    // The schema requires the key with redisUrl: every instance must open the same sealed tokens.
    if (configuredKey === undefined) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        detail: 'session.redisUrl needs session.encryptionKey',
      });
    }
    store = await createRedisSessionStore({
      url: config.session.redisUrl,
      encryptionKey: configuredKey,
      keyPrefix: config.session.redisKeyPrefix,
    });
  }
  if (store === undefined) {
    const sql = openSqlDatabase<BffDatabase>({
      url: config.session.databaseUrl,
      sqliteFile: config.session.sqliteFile,
    });
    try {
      await migrateToLatest(sql.db as never, 'bff', BFF_MIGRATIONS);
    } catch (err) {
      await sql.close();
      throw err;
    }
    if (
      configuredKey === undefined &&
      (config.session.sqliteFile !== ':memory:' || config.session.databaseUrl !== undefined)
    ) {
      logger.warn(
        'no session.encryptionKey: a random one is used, so sessions end when the process restarts',
      );
    }
    store = createSqlSessionStore({ db: sql.db, encryptionKey: sessionKey, onClose: () => sql.close() });
  }

  const redirectUri = `${config.publicUrl}/auth/callback`;
  const oidc = createOidcClient(config, redirectUri);
  const audit = createAudit(options.audit, logger, now, config.oidc.clientId);
  const sessions = createSessionManager({
    store,
    oidc,
    now,
    logger,
    idleTimeoutSec: config.session.idleTimeoutSec,
    absoluteTimeoutSec: config.session.absoluteTimeoutSec,
    refreshBeforeExpirySec: config.session.refreshBeforeExpirySec,
    onEnded: (session, reason) => {
      audit(undefined, { action: 'bff.session_end', outcome: 'success', sub: session.sub, reason });
    },
  });
  const ctx: BffContext = {
    config,
    cookies: buildCookieSettings(secure, config.session.sameSite),
    origins: createOriginPolicy(config.publicUrl, config.allowedOrigins),
    oidc,
    sessions,
    logger,
    now,
    redirectUri,
    postLogoutRedirectUri: config.oidc.postLogoutRedirectUri ?? `${config.publicUrl}/`,
    logoutHandoff: createLogoutHandoff(sessionKey),
    audit,
  };

  // `https: null` is plain HTTP. Fastify types an HTTPS instance apart; every route and hook is
  // the same for both, so the app keeps the one type callers know.
  const app = Fastify<HttpsServer>({
    logger: false,
    trustProxy: false,
    return503OnClosing: true,
    https: https ?? null,
  }) as unknown as FastifyInstance;
  let certificates: TlsReloader | undefined;
  if (tlsConfig !== undefined) {
    const server = app.server as unknown as HttpsServer;
    try {
      attachOcspStapling(server, tlsConfig, baseDir);
      certificates = watchTlsFiles(server, tlsConfig, baseDir, { logger });
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  const securityHeaders = buildSecurityHeaders({
    secure,
    formTargets: [new URL(config.oidc.issuer).origin],
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.headers(securityHeaders);
    // CSRF (ASVS V50.1 / OWASP cheat sheet): every state change needs an allowed Origin AND X-CSRF.
    if (isUnsafeMethod(request.method) && request.routeOptions.config.csrf !== false) {
      const refusal = checkCsrf(ctx.origins, request.headers.origin, request.headers['x-csrf']);
      if (refusal !== undefined) {
        audit(request, { action: 'csrf.refuse', outcome: 'failure', reason: refusal });
        return sendProblem(reply, 'ERR_BFF_CSRF_REFUSED');
      }
    }
    return undefined;
  });
  registerCors(app, ctx);
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 65_536 },
    (_request, body, done) => {
      done(null, new URLSearchParams(body as string));
    },
  );
  app.setNotFoundHandler((_request, reply) => sendProblem(reply, 'ERR_BFF_NOT_FOUND'));
  app.setErrorHandler((err: { statusCode?: number }, _request, reply) => {
    const status = err.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return sendProblem(reply, 'ERR_BFF_BAD_REQUEST', status);
    }
    logger.error({ err }, 'request failed');
    return sendProblem(reply, 'ERR_BFF_INTERNAL');
  });

  registerLogin(app, ctx, store);
  registerCallback(app, ctx, store);
  registerLogout(app, ctx);
  registerSessionInfo(app, ctx);
  registerHealth(app, store);
  const backchannel = registerBackchannelLogout(app, ctx);
  if (config.admin !== undefined) registerAdminSessions(app, ctx, config.admin.token);
  const dispatcher = new Agent({ connections: 128 });
  registerRelay(app, ctx, dispatcher);
  if (config.staticDir !== undefined) registerStatic(app, config.staticDir);

  const sweeper = setInterval(() => {
    sessions.sweep().catch((err: unknown) => {
      logger.warn({ err }, 'session sweep failed');
    });
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();

  let closed = false;
  return {
    app,
    sessions: {
      list: (sub) => sessions.list(sub),
      async revoke(match) {
        const ended = await sessions.endMatching(match);
        await Promise.all(ended.map((session) => sessions.revokeAtOp(session)));
        return ended.length;
      },
    },
    async listen() {
      await app.listen({ host: config.listen.host, port: config.listen.port });
      const { port } = app.server.address() as AddressInfo;
      const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
      return `${https === undefined ? 'http' : 'https'}://${host}:${port}`;
    },
    reloadCertificates: () => certificates?.reload() ?? Promise.resolve(true),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      certificates?.close();
      await app.close();
      backchannel.close();
      await dispatcher.close();
      await store.close();
    },
  };
}
