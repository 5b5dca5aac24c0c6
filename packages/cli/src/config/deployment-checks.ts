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
  if (config.admin.token === undefined) {
    findings.push({
      severity: 'high',
      check: 'admin_token_missing',
      message: 'admin.token is not set: the admin API is disabled (set it, e.g. to ${GATEHOUSE_ADMIN_TOKEN})',
    });
  }
  if (!isLoopbackHost(config.admin.listen.host)) {
    findings.push({
      severity: 'warning',
      check: 'admin_listen_public',
      message: `admin.listen.host ${config.admin.listen.host} is not loopback: keep the admin API on a private network`,
    });
  }
  const gateway = config.gateway;
  if (gateway !== undefined) findings.push(...gatewayFindings(gateway));
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
