import { GatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditDurably } from '../audit.js';
import { InvalidClientError } from '../clients/authenticate-client.js';
import type { Client } from '../clients/client.js';
import { registerDpopNonces, verifyDpopAtEndpoint } from '../dpop/verify-dpop.js';
import { GRANT_HANDLERS, isKnownGrant } from '../grants/handlers.js';
import { formOf, knownErrorOf, sourceIpOf } from '../http/create-app.js';
import { certificateBindingOf } from '../mtls/certificate-binding.js';
import type { CertificateEvidence } from '../mtls/client-certificate.js';
import { ENDPOINT_PATHS, type AuthServerServices } from '../services.js';

/**
 * RFC 6749 §5.2: a client that tried HTTP Basic and failed gets a `WWW-Authenticate: Basic`
 * challenge with its 401 `invalid_client`. Called from a route's onError hook (before the error
 * handler, which keeps headers already set).
 */
export function challengeBasic(reply: FastifyReply, services: AuthServerServices, err: unknown): void {
  if (err instanceof InvalidClientError && err.basic) {
    void reply.header('www-authenticate', `Basic realm="${services.deps.config.issuer}"`);
  }
}

/**
 * Authenticates the client of a token, introspection, revocation or PAR request (RFC 6749 §2.3,
 * RFC 8705 §2: with the TLS client certificate, read here unless the caller already has it).
 */
export function authenticate(
  services: AuthServerServices,
  request: FastifyRequest,
  endpoint: string,
  certificate: CertificateEvidence = services.readCertificate(request),
): Promise<Client> {
  return services.authenticateClient({
    authorization: request.headers.authorization,
    params: formOf(request),
    endpoint,
    certificate,
    sourceIp: sourceIpOf(request),
    requestId: request.id,
  });
}

/**
 * The token endpoint (RFC 6749 §3.2, §5): a form POST, client authentication, DPoP (RFC 9449 §5),
 * then one handler per grant. Every issuance and every refusal is audited (never the token).
 */
/** What a refusal audit names: known only as far as the request got. */
interface RequestFacts {
  clientId?: string | undefined;
  grantType?: string | undefined;
}

export function registerToken(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  const { deps, endpoints } = services;
  const facts = new WeakMap<FastifyRequest, RequestFacts>();
  registerDpopNonces(app, services, prefix);

  // Every refusal, including a body the form parser refused before the handler ran, is audited
  // here; onError runs before the error handler, so the Basic challenge header is still added.
  const onError = async (request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<void> => {
    challengeBasic(reply, services, err);
    const known = facts.get(request) ?? {};
    const grantType = known.grantType;
    // The refusal is sent even if its event cannot be spooled (the failure is logged).
    await auditDurably(deps, {
      action: 'token.refuse',
      outcome: 'failure',
      clientId: known.clientId,
      sourceIp: sourceIpOf(request),
      requestId: request.id,
      // The code the client was answered with (a body Fastify refused is invalid_request).
      reason: knownErrorOf(err)?.code ?? 'ERR_OAUTH_SERVER_ERROR',
      ...(grantType !== undefined && isKnownGrant(grantType) ? { details: { grant_type: grantType } } : {}),
    }).catch(() => undefined);
  };

  app.post(`${prefix}${ENDPOINT_PATHS.token}`, { onError }, async (request, reply) => {
    const params = formOf(request);
    const grantType = params['grant_type'];
    const known: RequestFacts = { clientId: params['client_id'], grantType };
    facts.set(request, known);
    // DPoP first: a nonce challenge must not use up a private_key_jwt assertion's jti.
    const dpopJkt = await verifyDpopAtEndpoint(services, request, endpoints.token);
    const certificate = services.readCertificate(request);
    const client = await authenticate(services, request, endpoints.token, certificate);
    known.clientId = client.clientId;
    if (grantType === undefined) {
      throw new GatehouseError('ERR_OAUTH_INVALID_REQUEST', { detail: 'missing grant_type' });
    }
    if (!isKnownGrant(grantType)) {
      throw new GatehouseError('ERR_OAUTH_UNSUPPORTED_GRANT_TYPE', { detail: 'unknown grant_type' });
    }
    if (!client.grantTypes.includes(grantType)) {
      throw new GatehouseError('ERR_OAUTH_UNAUTHORIZED_CLIENT', { detail: 'grant type not registered' });
    }
    // Before the grant runs: a refused request must not have consumed a code or a refresh token.
    const x5tS256 = certificateBindingOf(client, certificate);
    const result = await GRANT_HANDLERS[grantType]({
      services,
      client,
      params,
      dpopJkt,
      x5tS256,
      sourceIp: sourceIpOf(request),
      requestId: request.id,
    });
    await auditDurably(deps, {
      action: 'token.issue',
      outcome: 'success',
      sub: result.sub,
      clientId: client.clientId,
      sourceIp: sourceIpOf(request),
      requestId: request.id,
      details: {
        grant_type: grantType,
        format: result.format,
        ...result.details,
        // OIDC Core §3.1.3.3: an ID token came with the access token.
        id_token: typeof result.body['id_token'] === 'string',
      },
    });
    return reply.header('content-type', 'application/json').send(JSON.stringify(result.body));
  });
}
