import {
  registerCertificateExpiryGauge,
  type CertificateInfo,
  type CounterChild,
  type HistogramChild,
  type MetricsRegistry,
} from '@gatehouse/core';
import type { EndpointName } from './endpoint-names.js';

/** What a token response carried (RFC 6749 §5.1 `access_token`, `refresh_token`; OIDC Core §3.1.3.3 `id_token`). */
export type IssuedTokenType = 'access' | 'refresh' | 'id';

export type LoginOutcome = 'success' | 'failure' | 'lockout';

/**
 * The authorization server's Prometheus series, served on the admin listener's `/metrics`. Labels
 * come from the code, never from requests: the callers pass values of fixed sets (label-values.ts,
 * endpoint-names.ts).
 */
export interface AuthServerMetrics {
  /** The certificate a TLS listener (`issuer`, `admin`) serves now: on start and on each reload. */
  certificateLoaded(listener: string, info: CertificateInfo): void;
  /** One answered request of an issuer endpoint: its status and its time in the server. */
  observeRequest(endpoint: EndpointName, status: number, seconds: number): void;
  /** A token response: its grant (label-values `grantTypeLabel`) and each token it carried. */
  tokensIssued(grantType: string, tokenTypes: readonly IssuedTokenType[]): void;
  /** A refused token request: its grant and RFC 6749 §5.2 error (label-values.ts). */
  tokenRefused(grantType: string, error: string): void;
  /** A token revoked at the revocation endpoint (RFC 7009 §2.1); a refresh token's grant counts once. */
  tokenRevoked(): void;
  /** An introspection answer (RFC 7662 §2.2), by its `active` member. */
  introspected(active: boolean): void;
  /** A sign-in at the login form. */
  login(outcome: LoginOutcome): void;
}

// From sub-millisecond answers (discovery, JWKS) to password hashing at the login form (scrypt).
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Defines the series (the signing-key gauge is signing-keys-gauge.ts: it needs the key service). */
export function createAuthServerMetrics(registry: MetricsRegistry): AuthServerMetrics {
  // The same definition as the gateway's, so one alert rule covers both components.
  const recordCertificate = registerCertificateExpiryGauge(registry);
  const requests = registry.counter({
    name: 'gatehouse_auth_requests_total',
    help: 'Requests answered by the authorization server, by endpoint and status code',
    labelNames: ['endpoint', 'code'],
  });
  const duration = registry.histogram({
    name: 'gatehouse_auth_request_duration_seconds',
    help: 'Time from receiving a request to the end of its answer, by authorization server endpoint',
    labelNames: ['endpoint'],
    buckets: DURATION_BUCKETS,
  });
  const issued = registry.counter({
    name: 'gatehouse_auth_tokens_issued_total',
    help: 'Tokens issued at the token endpoint, by grant type and token type (access, refresh, id)',
    labelNames: ['grant_type', 'token_type'],
  });
  const refused = registry.counter({
    name: 'gatehouse_auth_token_refusals_total',
    help: 'Token requests refused, by grant type and OAuth error code',
    labelNames: ['grant_type', 'error'],
  });
  const revoked = registry.counter({
    name: 'gatehouse_auth_revocations_total',
    help: 'Tokens revoked at the revocation endpoint (a refresh token with its grant counts once)',
  });
  const introspections = registry.counter({
    name: 'gatehouse_auth_introspections_total',
    help: 'Introspection answers, by whether the token was active',
    labelNames: ['active'],
  });
  const logins = registry.counter({
    name: 'gatehouse_auth_logins_total',
    help: 'Sign-ins at the login form (success, failure) and lockouts they caused',
    labelNames: ['outcome'],
  });

  // Bound series handles: the hot path builds no label strings.
  const requestChildren = new Map<string, CounterChild>();
  const durationChildren = new Map<EndpointName, HistogramChild>();

  return {
    certificateLoaded: recordCertificate,
    observeRequest(endpoint, status, seconds) {
      const key = `${endpoint} ${status}`;
      let counter = requestChildren.get(key);
      if (counter === undefined)
        requestChildren.set(key, (counter = requests.child([endpoint, String(status)])));
      counter.inc();
      let histogram = durationChildren.get(endpoint);
      if (histogram === undefined) durationChildren.set(endpoint, (histogram = duration.child([endpoint])));
      histogram.observe(seconds);
    },
    tokensIssued(grantType, tokenTypes) {
      for (const tokenType of tokenTypes) issued.inc([grantType, tokenType]);
    },
    tokenRefused(grantType, error) {
      refused.inc([grantType, error]);
    },
    tokenRevoked() {
      revoked.inc();
    },
    introspected(active) {
      introspections.inc([active ? 'true' : 'false']);
    },
    login(outcome) {
      logins.inc([outcome]);
    },
  };
}
