import { GatehouseError } from '@gatehouse/core';
import { createVerifier } from '@gatehouse/guard';
import type { AuthServerDeps } from '../context.js';
import type { KeyService } from '../keys/key-service.js';

/** What a verified `id_token_hint` says. */
export interface IdTokenHint {
  readonly sub: string;
  /** The client the ID token was issued to (its `aud`). */
  readonly clientId: string;
  readonly sid: string | undefined;
}

function unverifiedAudience(jwt: string): string | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined || payload.length > 8192) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const aud = (claims as { aud?: unknown } | null)?.aud;
    // Our ID tokens have one audience, the client; anything else is not ours.
    return typeof aud === 'string' && aud !== '' ? aud : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies an `id_token_hint` (OIDC Core §3.1.2.1, RP-Initiated Logout §2) with guard against this
 * server's published keys: our issuer, `typ: JWT`, signature, the audience it names. An expired
 * hint is still accepted (RP-Initiated Logout §2: "even if it has expired"), up to the session
 * lifetime: an older one cannot name a live session. Throws invalid_request otherwise.
 */
export async function verifyIdTokenHint(
  deps: Pick<AuthServerDeps, 'config' | 'now'>,
  keys: KeyService,
  hint: string,
): Promise<IdTokenHint> {
  const audience = unverifiedAudience(hint);
  if (audience === undefined)
    throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'id_token_hint audience' });
  const verifier = createVerifier({
    issuer: deps.config.issuer,
    audience,
    jwks: await keys.jwks(),
    algorithms: [deps.config.keys.algorithm],
    typ: 'JWT',
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    clockToleranceSec: deps.config.login.sessionTtlSec + deps.config.tokens.idTokenTtlSec,
    cache: false,
    now: deps.now,
  });
  try {
    const principal = await verifier.verify(hint);
    return { sub: principal.sub, clientId: audience, sid: principal.sid };
  } catch (err) {
    throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'id_token_hint refused', cause: err });
  } finally {
    verifier.close();
  }
}
