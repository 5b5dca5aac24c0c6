import { GatehouseError, type Logger } from '@gatehouse/core';
import type { ConnectionOptions } from 'node:tls';
import { buildCheckServerIdentity } from './check-server-identity.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { Http1Pool } from './http1/http1-pool.js';
import type { UpstreamOptions } from './upstream.js';

/** One upstream base URL: its connection pool, circuit and health. */
export interface Target {
  /** Origin and base path: what logs, metrics and `health()` show (never credentials). */
  readonly label: string;
  /** Prepended to every request path; `` for a bare origin. */
  readonly basePath: string;
  readonly pool: Http1Pool;
  readonly circuit: CircuitBreaker;
  healthy: boolean;
  /** Consecutive probe results: positive good, negative bad. */
  healthStreak: number;
  inFlight: number;
}

/** Shorter than the common 5 s server idle timeout, avoiding reuse races (as undici's default). */
const KEEP_ALIVE_MS = 4_000;

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { detail });
}

function parseTarget(id: string, base: string): URL {
  if (!URL.canParse(base)) throw invalid(`upstream ${id}: target is not a URL`);
  const url = new URL(base);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`upstream ${id}: target must be http:// or https://`);
  }
  if (url.username !== '' || url.password !== '')
    throw invalid(`upstream ${id}: credentials in a target URL`);
  if (url.search !== '' || url.hash !== '')
    throw invalid(`upstream ${id}: query or fragment in a target URL`);
  return url;
}

type TlsOptions = ConnectionOptions;

/** TLS settings of https targets, built once per upstream. */
export function buildTlsOptions(options: UpstreamOptions): TlsOptions {
  const tls = options.tls;
  if (tls === undefined) return { rejectUnauthorized: true };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw invalid(`upstream ${options.id}: tls.cert and tls.key go together`);
  }
  const checkServerIdentity = buildCheckServerIdentity(tls.identity);
  return {
    // Never configurable: an unverified upstream is a man-in-the-middle away from every token.
    rejectUnauthorized: true,
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    ...(checkServerIdentity === undefined ? {} : { checkServerIdentity }),
  };
}

export function createTarget(
  options: UpstreamOptions,
  base: string,
  tls: TlsOptions,
  now: () => number,
  logger: Logger | undefined,
): Target {
  const url = parseTarget(options.id, base);
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  const label = url.origin + basePath;
  const { connectMs, headersMs, bodyMs } = options.timeouts;
  const pool = new Http1Pool({
    origin: url,
    maxConnections: options.maxConnections ?? null,
    connectTimeoutMs: connectMs,
    headersTimeoutMs: headersMs,
    bodyTimeoutMs: bodyMs,
    keepAliveMs: KEEP_ALIVE_MS,
    ...(url.protocol === 'https:' ? { tls } : {}),
  });
  const circuit = new CircuitBreaker(options.circuitBreaker, now, (state) => {
    logger?.warn({ upstream: options.id, target: label, circuit: state }, 'upstream circuit changed');
  });
  return { label, basePath, pool, circuit, healthy: true, healthStreak: 0, inFlight: 0 };
}
