import { fail } from '../errors.js';
import type { Confirmation, Principal } from './principal.js';

export interface ClaimsPolicy {
  readonly issuers: ReadonlySet<string>;
  readonly audiences: ReadonlySet<string>;
  readonly requiredClaims: readonly string[];
  readonly clockToleranceSec: number;
  readonly maxTokenAgeSec: number;
  readonly rolesClaim: string;
  readonly tenantClaim: string;
}

type Claims = Record<string, unknown>;

/** RFC 7519 §2 NumericDate, restricted to what an issuer really sends: a non-negative integer. */
function numericDate(claims: Claims, name: string): number | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  // Rejects 1e400 (Infinity after parsing), NaN-like strings, fractions and negatives.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    fail('ERR_JWT_CLAIM_INVALID', name);
  return value;
}

function optionalString(claims: Claims, name: string): string | undefined {
  const value = claims[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail('ERR_JWT_CLAIM_INVALID', name);
  return value;
}

function stringArray(value: unknown, name: string): readonly string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    fail('ERR_JWT_CLAIM_INVALID', name);
  }
  return value;
}

function confirmation(claims: Claims): Confirmation | undefined {
  const cnf = claims['cnf'];
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) fail('ERR_JWT_CLAIM_INVALID', 'cnf');
  const out: { jkt?: string; 'x5t#S256'?: string } = {};
  for (const name of ['jkt', 'x5t#S256'] as const) {
    const value = (cnf as Claims)[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.length === 0) fail('ERR_JWT_CLAIM_INVALID', `cnf.${name}`);
    out[name] = value;
  }
  return Object.freeze(out);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * JWT claims validation (RFC 7519 §7.2 step 10, RFC 9068 §4, RFC 8725 §3.8-3.9): types first, then
 * issuer, audience and time. `nowMs` is the injected clock.
 */
export function validateClaims(claims: Claims, policy: ClaimsPolicy, nowMs: number): Principal {
  for (const name of policy.requiredClaims) {
    if (claims[name] === undefined) fail('ERR_JWT_CLAIM_MISSING', name);
  }

  const exp = numericDate(claims, 'exp');
  const nbf = numericDate(claims, 'nbf');
  const iat = numericDate(claims, 'iat');
  const iss = optionalString(claims, 'iss');
  const sub = optionalString(claims, 'sub');
  if (sub === undefined) fail('ERR_JWT_CLAIM_MISSING', 'sub');
  if (sub === '') fail('ERR_JWT_CLAIM_INVALID', 'sub');
  const jti = optionalString(claims, 'jti');
  const sid = optionalString(claims, 'sid');
  const scope = optionalString(claims, 'scope');
  // Both are type-checked even when client_id wins, so a malformed azp never passes unnoticed.
  const azp = optionalString(claims, 'azp');
  const clientId = optionalString(claims, 'client_id') ?? azp;
  const tenant = optionalString(claims, policy.tenantClaim);
  const roles =
    claims[policy.rolesClaim] === undefined ? [] : stringArray(claims[policy.rolesClaim], 'roles');
  const rawAud = claims['aud'];
  const audience =
    rawAud === undefined ? [] : typeof rawAud === 'string' ? [rawAud] : stringArray(rawAud, 'aud');
  const cnf = confirmation(claims);

  // RFC 8725 §3.8: exact issuer, so `https://as/` and `https://as` differ.
  if (iss === undefined || !policy.issuers.has(iss)) fail('ERR_JWT_ISSUER_INVALID');
  // RFC 7519 §4.1.3 / RFC 9068 §4: the resource must be one of the audiences.
  if (!audience.some((aud) => policy.audiences.has(aud))) fail('ERR_JWT_AUDIENCE_INVALID');

  const now = nowMs / 1000;
  const tolerance = policy.clockToleranceSec;
  // Deny tokens that never expire: without exp, iat bounds the lifetime; without both, refuse.
  if (exp === undefined && iat === undefined) fail('ERR_JWT_CLAIM_MISSING', 'exp');
  const expiresAt = exp ?? (iat as number) + policy.maxTokenAgeSec;
  // RFC 7519 §4.1.4: the current time must be before exp (with the allowed skew).
  if (now - tolerance >= expiresAt) fail('ERR_JWT_EXPIRED');
  if (nbf !== undefined && now + tolerance < nbf) fail('ERR_JWT_NOT_YET_VALID');
  if (iat !== undefined && iat > now + tolerance) fail('ERR_JWT_IAT_FUTURE');
  const lifetime = expiresAt - (iat ?? now);
  if (lifetime > policy.maxTokenAgeSec) fail('ERR_JWT_LIFETIME_EXCEEDED');

  return Object.freeze({
    sub,
    clientId,
    scopes: Object.freeze(scope === undefined || scope === '' ? [] : scope.split(' ').filter(Boolean)),
    audience: Object.freeze([...audience]),
    issuer: iss,
    expiresAt,
    issuedAt: iat,
    jti,
    sid,
    roles: Object.freeze([...roles]),
    tenant,
    cnf,
    claims: deepFreeze(claims),
  });
}
