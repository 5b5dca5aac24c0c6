export interface SecurityHeaderOptions {
  /** The BFF is served over https: HSTS and upgrade-insecure-requests. */
  readonly secure: boolean;
  /**
   * Origins a form may be submitted (and redirected) to besides ours: the OP, since logout answers
   * a form POST with a redirect to its end_session_endpoint (CSP3 form-action covers redirects).
   */
  readonly formTargets: readonly string[];
}

/**
 * Headers on every response (OWASP Secure Headers, ASVS V14.4): a CSP with no inline script and
 * no framing (`frame-ancestors 'none'`, CSP3 §6.4.2), no referrer (tokens or codes in a URL never
 * leak onward), no MIME sniffing, no cross-origin window or resource sharing.
 */
export function buildSecurityHeaders(options: SecurityHeaderOptions): Readonly<Record<string, string>> {
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `form-action ${["'self'", ...options.formTargets].join(' ')}`,
    "frame-ancestors 'none'",
    ...(options.secure ? ['upgrade-insecure-requests'] : []),
  ].join('; ');
  return {
    'content-security-policy': csp,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    ...(options.secure ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' } : {}),
  };
}
