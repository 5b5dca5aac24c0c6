import { createHash } from 'node:crypto';
import type { Client } from '../clients/client.js';
import type { AuthServerDeps } from '../context.js';
import type { KeyService } from '../keys/key-service.js';

export interface IdTokenRequest {
  readonly client: Client;
  readonly sub: string;
  readonly nonce: string | null;
  /** Epoch ms of the user's authentication. */
  readonly authTime: number;
  readonly sid: string | null;
  /** The access token issued alongside: its `at_hash` binds the two (OIDC Core §3.1.3.6). */
  readonly accessToken?: string;
}

/** OIDC Core §3.1.3.6 / §3.3.2.11: left half of the SHA-256 of the ASCII token, base64url. */
export function leftHalfHash(value: string): string {
  const digest = createHash('sha256').update(value, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** An ID token (OpenID Connect Core §2): for the client (`aud`), with `nonce`, `auth_time`, `sid`. */
export async function issueIdToken(
  deps: Pick<AuthServerDeps, 'config' | 'now'>,
  keys: KeyService,
  request: IdTokenRequest,
): Promise<string> {
  const iat = Math.floor(deps.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: deps.config.issuer,
    sub: request.sub,
    aud: request.client.clientId,
    exp: iat + deps.config.tokens.idTokenTtlSec,
    iat,
    auth_time: Math.floor(request.authTime / 1000),
    ...(request.nonce === null ? {} : { nonce: request.nonce }),
    ...(request.sid === null ? {} : { sid: request.sid }),
    ...(request.accessToken === undefined ? {} : { at_hash: leftHalfHash(request.accessToken) }),
  };
  return (await keys.sign(claims, 'JWT')).jwt;
}
