import { timingSafeEqual } from 'node:crypto';
import { GatehouseError, hashToken, isGatehouseError } from '@gatehouse/core';
import { createVerifier, type Verifier } from '@gatehouse/guard';
import { audit } from '../audit.js';
import type { AuthServerDeps } from '../context.js';
import type { Params } from '../http/params.js';
import type { CertificateEvidence } from '../mtls/client-certificate.js';
import { certificateKeyProblem } from '../mtls/match-certificate-key.js';
import { certificateNameProblem } from '../mtls/match-certificate-name.js';
import { pkiProblem, type PkiTrust } from '../mtls/verify-client-certificate.js';
import { CLIENT_SIGNING_ALGORITHMS } from './client-algorithms.js';
import { isMtlsMethod, type Client, type ClientAuthMethod } from './client.js';
import type { ClientStore } from './client-store.js';

/** What a request presents to authenticate its client (RFC 6749 §2.3). */
export interface ClientCredentials {
  /** The `Authorization` header, if any. */
  readonly authorization: string | undefined;
  readonly params: Params;
  /** URL of the endpoint being called: an accepted `aud` of a private_key_jwt assertion. */
  readonly endpoint: string;
  /** The TLS client certificate of the request (RFC 8705 §2); absent means none. */
  readonly certificate?: CertificateEvidence | undefined;
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
}

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** RFC 7523 §3: the assertion must expire; we also bound how far ahead (and keep jti that long). */
const MAX_ASSERTION_LIFETIME_SEC = 300;

/** `invalid_client` (401); `basic` asks for a `WWW-Authenticate: Basic` challenge (RFC 6749 §5.2). */
export class InvalidClientError extends GatehouseError<'ERR_OAUTH_INVALID_CLIENT'> {
  readonly basic: boolean;
  constructor(detail: string, basic: boolean) {
    super('ERR_OAUTH_INVALID_CLIENT', { detail });
    this.basic = basic;
  }
}

function decodeBasic(value: string): { id: string; secret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*)$/i.exec(value);
  if (match === null) return undefined;
  const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  try {
    // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    const decode = (part: string): string => decodeURIComponent(part.replace(/\+/g, ' '));
    return { id: decode(decoded.slice(0, colon)), secret: decode(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

function secretMatches(client: Client, secret: string): boolean {
  if (client.secretHash === null) return false;
  const presented = Buffer.from(hashToken(secret));
  const stored = Buffer.from(client.secretHash);
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/**
 * RFC 8705 §2: a client registered for a mutual-TLS method is authenticated by the certificate of
 * the request (it sends only `client_id`): `tls_client_auth` needs a certificate that chains to a
 * configured CA and carries the registered name; `self_signed_tls_client_auth` one whose key is
 * among the client's registered keys.
 */
function checkCertificate(
  client: Client,
  evidence: CertificateEvidence | undefined,
  trust: PkiTrust,
  nowMs: number,
): void {
  if (evidence?.status !== 'present') throw new InvalidClientError('no client certificate', false);
  const { certificate } = evidence;
  const problem =
    client.authMethod === 'tls_client_auth'
      ? (pkiProblem(certificate, trust, nowMs) ??
        (client.tlsClientAuth === null
          ? 'no certificate name registered'
          : certificateNameProblem(certificate.x509, client.tlsClientAuth)))
      : certificateKeyProblem(certificate, client.jwks);
  if (problem !== undefined) throw new InvalidClientError(problem, false);
}

export interface ClientAuthenticatorOptions {
  /**
   * The CAs tls_client_auth certificates chain to, as in force now (the listener's CA file may be
   * reloaded). Absent: none, so that method always fails.
   */
  readonly pki?: () => PkiTrust;
}

const NO_PKI = (): PkiTrust => ({ anchors: [], listenerVerified: false });

/**
 * Authenticates the client of a token-endpoint style request. Exactly one method may be used
 * (RFC 6749 §2.3); it must be the one the client registered; secrets compare in constant time;
 * `private_key_jwt` assertions (RFC 7523 §3) are verified with guard against the client's keys and
 * their `jti` is single-use; mutual-TLS clients (RFC 8705 §2) present their certificate. A
 * certificate header a trusted proxy sent but that cannot be read fails every method. Every
 * failure is `invalid_client` and audited.
 */
export function createClientAuthenticator(
  deps: Pick<AuthServerDeps, 'config' | 'state' | 'now' | 'audit' | 'logger'>,
  clients: ClientStore,
  options: ClientAuthenticatorOptions = {},
): (credentials: ClientCredentials) => Promise<Client> {
  const pki = options.pki ?? NO_PKI;
  const verifiers = new Map<string, { jwks: string; verifier: Verifier }>();

  function assertionVerifier(client: Client, endpoint: string): Verifier {
    const jwks = JSON.stringify(client.jwks);
    const cached = verifiers.get(client.clientId);
    if (cached !== undefined && cached.jwks === jwks) return cached.verifier;
    const verifier = createVerifier({
      issuer: client.clientId,
      // RFC 7523 §3 point 3: the token endpoint URL; the issuer identifier is accepted too.
      audience: [deps.config.issuer, endpoint],
      jwks: client.jwks ?? { keys: [] },
      algorithms: CLIENT_SIGNING_ALGORITHMS,
      typ: null,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
      maxTokenAgeSec: MAX_ASSERTION_LIFETIME_SEC,
      cache: false,
      now: deps.now,
    });
    verifiers.set(client.clientId, { jwks, verifier });
    return verifier;
  }

  async function authenticate(credentials: ClientCredentials): Promise<Client> {
    const { params } = credentials;
    if (credentials.certificate?.status === 'malformed') {
      throw new InvalidClientError(credentials.certificate.reason, false);
    }
    const basic =
      credentials.authorization === undefined ? undefined : decodeBasic(credentials.authorization);
    if (credentials.authorization !== undefined && basic === undefined) {
      throw new InvalidClientError('malformed Authorization header', true);
    }
    const assertion = params['client_assertion'];
    const used: ClientAuthMethod[] = [];
    if (basic !== undefined) used.push('client_secret_basic');
    if (params['client_secret'] !== undefined) used.push('client_secret_post');
    if (assertion !== undefined || params['client_assertion_type'] !== undefined)
      used.push('private_key_jwt');
    if (used.length > 1)
      throw new InvalidClientError('more than one authentication method', basic !== undefined);
    const method: ClientAuthMethod = used[0] ?? 'none';

    let clientId = basic?.id ?? params['client_id'];
    if (method === 'private_key_jwt') {
      if (params['client_assertion_type'] !== CLIENT_ASSERTION_TYPE || assertion === undefined) {
        throw new InvalidClientError('client_assertion_type or client_assertion missing', false);
      }
      // RFC 7523 §3: iss and sub name the client; read sub before verification only to find the keys.
      const sub = unverifiedSubject(assertion);
      if (sub === undefined || (clientId !== undefined && clientId !== sub)) {
        throw new InvalidClientError('assertion subject does not name the client', false);
      }
      clientId = sub;
    }
    if (basic !== undefined && params['client_id'] !== undefined && params['client_id'] !== basic.id) {
      throw new InvalidClientError('client_id differs from the Basic credentials', true);
    }
    if (clientId === undefined) throw new InvalidClientError('no client identification', false);

    const client = await clients.get(clientId);
    if (client === undefined) throw new InvalidClientError('unknown client', basic !== undefined);
    // RFC 8705 §2: no secret and no assertion, only client_id, and the certificate of the request.
    if (method === 'none' && isMtlsMethod(client.authMethod)) {
      checkCertificate(client, credentials.certificate, pki(), deps.now());
      return client;
    }
    if (client.authMethod !== method) {
      throw new InvalidClientError(
        `client registered for ${client.authMethod}, used ${method}`,
        basic !== undefined,
      );
    }
    switch (method) {
      case 'client_secret_basic':
        if (!secretMatches(client, (basic as { secret: string }).secret))
          throw new InvalidClientError('wrong secret', true);
        break;
      case 'client_secret_post':
        if (!secretMatches(client, params['client_secret'] as string))
          throw new InvalidClientError('wrong secret', false);
        break;
      case 'private_key_jwt': {
        let principal;
        try {
          principal = await assertionVerifier(client, credentials.endpoint).verify(assertion as string);
        } catch (err) {
          throw new InvalidClientError(
            `assertion refused: ${isGatehouseError(err) ? err.code : 'error'}`,
            false,
          );
        }
        if (principal.jti === undefined || principal.sub !== client.clientId) {
          throw new InvalidClientError('assertion without jti or with another subject', false);
        }
        // RFC 7523 §3 point 7: one use per jti, remembered until the assertion expires.
        const ttlMs = Math.max(1000, principal.expiresAt * 1000 - deps.now());
        const fresh = await deps.state.setIfAbsent(
          `assertion:${client.clientId}:${principal.jti}`,
          '1',
          ttlMs,
        );
        if (!fresh) throw new InvalidClientError('assertion jti replayed', false);
        break;
      }
      case 'none':
        break;
    }
    return client;
  }

  return async (credentials) => {
    try {
      return await authenticate(credentials);
    } catch (err) {
      if (err instanceof InvalidClientError) {
        // The client the request claimed to be, also when it was named only in the Basic header:
        // a secret guessed over HTTP Basic must show which client is under attack.
        const basic =
          credentials.authorization === undefined ? undefined : decodeBasic(credentials.authorization);
        audit(deps, {
          action: 'client.auth_failed',
          outcome: 'failure',
          clientId: basic?.id ?? credentials.params['client_id'],
          sourceIp: credentials.sourceIp,
          requestId: credentials.requestId,
          reason: err.detail,
        });
      }
      throw err;
    }
  };
}

/** The `sub` of a JWT without verifying it: used only to select the keys that will verify it. */
function unverifiedSubject(jwt: string): string | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined || payload.length > 8192) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const sub = (claims as { sub?: unknown } | null)?.sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
