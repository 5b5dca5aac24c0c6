import type { AuditEvent } from '@gatehouse/core';
import { expect } from 'vitest';
import type { PageResponse } from './browser-flow.js';
import type { TestAuthServer } from './harness.js';
import type { FormResponse } from './oauth-client.js';

/** What every row of an attack table names: the attack and where the rule it breaks is written. */
export interface AttackCase {
  readonly name: string;
  /** RFC section, OIDC Core section or CVE the expected refusal follows. */
  readonly source: string;
}

/** The members an RFC 6749 §5.2 error body may have (nothing internal: no detail, no stack). */
const ERROR_MEMBERS = new Set(['error', 'error_description', 'error_uri']);

/**
 * An RFC 6749 §5.2 JSON error: the status, the `error` code, `no-store`, and no member beyond the
 * three the RFC defines (no internal detail).
 */
export function expectOAuthError(response: FormResponse, status: number, error: string): void {
  expect({ status: response.status, error: response.body['error'] }).toEqual({ status, error });
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  expect(response.headers.get('cache-control')).toBe('no-store');
  for (const member of Object.keys(response.body)) expect(ERROR_MEMBERS).toContain(member);
}

/**
 * RFC 6749 §4.1.2.1 / RFC 9700 §4.1.3: an error about the client or its redirect URI is shown to the
 * user on a page, never sent to the (unverified) redirect URI: 400 HTML, no `Location`, no form,
 * framing forbidden, and nothing of the attacker's URI reflected.
 */
export function expectErrorPage(response: PageResponse, mustNotReflect: readonly string[] = []): void {
  expect(response.status).toBe(400);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(response.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  expect(response.text).not.toMatch(/<form\b/i);
  for (const text of mustNotReflect) expect(response.text).not.toContain(text);
}

/** The login form the authorization endpoint shows for a request it accepted (positive control). */
export function expectLoginPage(response: PageResponse): void {
  expect(response.status).toBe(200);
  expect(response.headers.get('location')).toBeNull();
  expect(response.text).toMatch(/<input[^>]*name="password"/);
}

/**
 * An error sent back to the client (RFC 6749 §4.1.2.1) at the exact redirect URI, with `state`
 * and the RFC 9207 §2 `iss` (mix-up defence).
 */
export function expectErrorRedirect(
  response: PageResponse,
  as: TestAuthServer,
  expected: { readonly redirectUri: string; readonly error: string; readonly state: string },
): void {
  expect(response.status).toBe(302);
  const location = response.location;
  expect(location).toBeDefined();
  const url = new URL(location as string);
  expect(`${url.origin}${url.pathname}`).toBe(expected.redirectUri);
  expect(url.hash).toBe('');
  expect({
    error: url.searchParams.get('error'),
    state: url.searchParams.get('state'),
    iss: url.searchParams.get('iss'),
    code: url.searchParams.get('code'),
  }).toEqual({ error: expected.error, state: expected.state, iss: as.url, code: null });
}

/** Audit events emitted since `mark` (`as.audit.length` taken before the request). */
export function auditSince(as: TestAuthServer, mark: number): AuditEvent[] {
  return as.audit.slice(mark);
}

/** The raw query string of an authorization request, for requests URLSearchParams cannot express. */
export function rawAuthorizeUrl(as: TestAuthServer, pairs: ReadonlyArray<readonly [string, string]>): string {
  const query = pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return `${as.url}/authorize?${query.join('&')}`;
}

/**
 * Every secret a table handles (passwords, client secrets, codes, tokens, cookies, CSRF tokens),
 * each under a label. At the end, none may appear in the server's log lines or audit events
 * (issue 3: never a token, secret or password in logs or audit events). A failure names the
 * labels, never the values.
 */
export class SecretWatch {
  readonly #secrets = new Map<string, string>();

  /** Remembers a secret (values shorter than 8 characters would match by accident: refused). */
  add(label: string, value: unknown): void {
    if (typeof value !== 'string') return;
    if (value.length < 8) throw new Error(`secret ${label} too short to scan for`);
    this.#secrets.set(value, label);
  }

  /** Remembers every token of an RFC 6749 §5.1 token response. */
  addTokens(label: string, response: FormResponse): void {
    for (const name of ['access_token', 'refresh_token', 'id_token'] as const) {
      this.add(`${label}.${name}`, response.body[name]);
    }
  }

  get size(): number {
    return this.#secrets.size;
  }

  /** Labels of the secrets found in the logs or the audit trail of `as`. */
  leaks(as: TestAuthServer): string[] {
    const haystack = `${as.logs.join('\n')}\n${JSON.stringify(as.audit)}`;
    return [...this.#secrets].filter(([value]) => haystack.includes(value)).map(([, label]) => label);
  }

  expectNoLeaks(as: TestAuthServer): void {
    expect(this.leaks(as)).toEqual([]);
  }
}
