import { isIP } from 'node:net';
import type { Deployment } from './load-deployment.js';

export interface Finding {
  /** `high`: production refuses to start; `warning`: worth fixing, never blocking. */
  readonly severity: 'high' | 'warning';
  /** Stable id of the check (`gatehouse doctor` reports it as `config.<check>`). */
  readonly check: string;
  readonly message: string;
}

/** Loopback names and addresses (RFC 8252 §8.3 treats these as the same machine). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** Settings that are unsafe outside one developer's machine. */
export function deploymentFindings(deployment: Deployment): Finding[] {
  const { config } = deployment;
  const findings: Finding[] = [];
  const issuer = new URL(config.authServer.issuer);
  if (issuer.protocol !== 'https:' && !isLoopbackHost(issuer.hostname)) {
    // RFC 8414 §2 / OAuth 2.1 §1.5: tokens and credentials travel only over TLS.
    findings.push({
      severity: 'high',
      check: 'issuer_plain_http',
      message: `authServer.issuer ${issuer.origin} is plain HTTP on a non-loopback host; use https`,
    });
  }
  const operators = config.admin.operators.length > 0;
  if (config.admin.token === undefined && !operators) {
    findings.push({
      severity: 'high',
      check: 'admin_token_missing',
      message: 'admin.token is not set: the admin API is disabled (set it, e.g. to ${GATEHOUSE_ADMIN_TOKEN})',
    });
  }
  // Operators authenticate only where the listener asks for client certificates and verifies them.
  const listeners: { name: string; tls: typeof config.admin.listen.tls }[] = [
    { name: 'admin.listen', tls: config.admin.listen.tls },
  ];
  if (config.gateway !== undefined)
    listeners.push({ name: 'gateway.admin.listen', tls: config.gateway.admin.listen.tls });
  const withoutClientAuth = listeners.filter(
    ({ tls }) => tls === undefined || tls.clientAuth === 'none' || tls.caFile === undefined,
  );
  if (operators && withoutClientAuth.length > 0) {
    findings.push({
      severity: 'warning',
      check: 'admin_operators_without_client_auth',
      message:
        `admin.operators is set, but ${withoutClientAuth.map(({ name }) => name).join(' and ')} ` +
        'asks for no client certificate (tls.clientAuth and tls.caFile): operators there need the admin token',
    });
  }
  if (!isLoopbackHost(config.admin.listen.host)) {
    findings.push({
      severity: 'warning',
      check: 'admin_listen_public',
      message: `admin.listen.host ${config.admin.listen.host} is not loopback: keep the admin API on a private network`,
    });
  }
  findings.push(...lifetimeFindings(config.authServer));
  const gateway = config.gateway;
  if (gateway !== undefined) findings.push(...gatewayFindings(gateway));
  return findings;
}

/**
 * Token lifetimes above what the BCPs recommend: a stolen token is usable for as long as it lives.
 * Warnings, never blocking: a deployment may have reasons (and revocation reaches opaque tokens).
 */
const LIFETIME_LIMITS: readonly {
  readonly setting: keyof Deployment['config']['authServer']['tokens'];
  readonly maxSec: number;
  readonly why: string;
}[] = [
  {
    setting: 'accessTokenTtlSec',
    maxSec: 3600,
    why: 'access tokens are bearer credentials; keep them short and refresh (RFC 9700 §2.2.2)',
  },
  {
    setting: 'codeTtlSec',
    maxSec: 600,
    why: 'RFC 6749 §4.1.2 recommends at most 10 minutes for an authorization code',
  },
  {
    setting: 'exchangeTtlSec',
    maxSec: 300,
    why: 'internal JWTs are never revoked individually; they must expire quickly',
  },
  { setting: 'idTokenTtlSec', maxSec: 3600, why: 'an ID token is proof of a login, not a session' },
  {
    setting: 'refreshAbsoluteTtlSec',
    maxSec: 90 * 86_400,
    why: 'a refresh-token family should end and the user log in again',
  },
];

const days = (sec: number): string => (sec % 86_400 === 0 ? `${sec / 86_400} d` : `${sec} s`);

function lifetimeFindings(authServer: Deployment['config']['authServer']): Finding[] {
  const findings: Finding[] = [];
  for (const { setting, maxSec, why } of LIFETIME_LIMITS) {
    const value = authServer.tokens[setting];
    if (value > maxSec)
      findings.push({
        severity: 'warning',
        check: 'token_lifetime_long',
        message: `authServer.tokens.${setting} is ${days(value)}, above ${days(maxSec)}: ${why}`,
      });
  }
  for (const resource of authServer.resources) {
    if (resource.accessTokenTtlSec !== undefined && resource.accessTokenTtlSec > 3600)
      findings.push({
        severity: 'warning',
        check: 'token_lifetime_long',
        message:
          `authServer.resources ${resource.id}: accessTokenTtlSec is ${days(resource.accessTokenTtlSec)}, ` +
          `above 3600 s: access tokens are bearer credentials; keep them short and refresh (RFC 9700 §2.2.2)`,
      });
  }
  return findings;
}

function plainHttpElsewhere(value: string): URL | undefined {
  const url = new URL(value);
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname) ? url : undefined;
}

/** The gateway's unsafe settings: credentials or tokens over plain HTTP off the machine. */
function gatewayFindings(gateway: NonNullable<Deployment['config']['gateway']>): Finding[] {
  const findings: Finding[] = [];
  if (gateway.auth !== undefined) {
    const issuer = plainHttpElsewhere(gateway.auth.issuer);
    // The gateway sends its client secret and every opaque token to the issuer.
    if (issuer !== undefined)
      findings.push({
        severity: 'high',
        check: 'gateway_issuer_plain_http',
        message: `gateway.auth.issuer ${issuer.origin} is plain HTTP on a non-loopback host; use https`,
      });
  }
  for (const [id, upstream] of Object.entries(gateway.upstreams)) {
    for (const target of upstream.targets) {
      const url = plainHttpElsewhere(target);
      // Internal JWTs travel to the upstream: off the machine they need TLS (and mTLS for zero trust).
      if (url !== undefined)
        findings.push({
          severity: 'warning',
          check: 'upstream_plain_http',
          message: `gateway.upstreams.${id} target ${url.origin} is plain HTTP on a non-loopback host; use https with mTLS`,
        });
    }
  }
  if (!isLoopbackHost(gateway.admin.listen.host)) {
    findings.push({
      severity: 'warning',
      check: 'gateway_admin_listen_public',
      message: `gateway.admin.listen.host ${gateway.admin.listen.host} is not loopback: keep the admin API on a private network`,
    });
  }
  return findings;
}
