import type { FastifyInstance, FastifyReply } from 'fastify';
import { GRANT_TYPES } from '../clients/client.js';
import type { AuthServerServices } from '../services.js';
import { CLIENT_SIGNING_ALGORITHMS } from '../clients/client-algorithms.js';
import { acceptsClientCertificates } from '../mtls/accepts-client-certificates.js';

/**
 * Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (OIDC Discovery §3),
 * listing only what is implemented: the contract clients and tests read endpoint paths from.
 */
export function buildMetadata(services: AuthServerServices): Record<string, unknown> {
  const { endpoints, deps } = services;
  const { config } = deps;
  // RFC 8705 §2 methods and §3 bound tokens only when a client certificate can reach the server.
  const mtls = acceptsClientCertificates(config);
  const authMethods = [
    'client_secret_basic',
    'client_secret_post',
    'private_key_jwt',
    ...(mtls ? ['tls_client_auth', 'self_signed_tls_client_auth'] : []),
    'none',
  ];
  const resourceScopes = config.resources.flatMap((r) => r.scopes);
  return {
    issuer: config.issuer,
    authorization_endpoint: endpoints.authorization,
    token_endpoint: endpoints.token,
    jwks_uri: endpoints.jwks,
    userinfo_endpoint: endpoints.userinfo,
    pushed_authorization_request_endpoint: endpoints.par,
    introspection_endpoint: endpoints.introspection,
    revocation_endpoint: endpoints.revocation,
    end_session_endpoint: endpoints.endSession,
    scopes_supported: [...new Set([...config.scopes, ...resourceScopes])],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // client_credentials without `scope` gets every scope the client is registered for (its
    // RFC 6749 §3.3 default); token exchange issues JWTs for one configured resource (RFC 8693).
    grant_types_supported: [...GRANT_TYPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: authMethods,
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGORITHMS],
    introspection_endpoint_auth_methods_supported: authMethods.filter((m) => m !== 'none'),
    revocation_endpoint_auth_methods_supported: authMethods,
    // RFC 8414 §2: MUST be present when private_key_jwt is listed for the endpoint (the same
    // assertion verifier serves the token, introspection and revocation endpoints).
    introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGORITHMS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_SIGNING_ALGORITHMS],
    introspection_signing_alg_values_supported: [config.keys.algorithm],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [config.keys.algorithm],
    claims_supported: [
      'sub',
      'iss',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'sid',
      'name',
      'preferred_username',
      'email',
    ],
    prompt_values_supported: ['none', 'login', 'consent'],
    // UserInfo answers plain JSON (OIDC Core §5.3.2); the `claims` request parameter is not read.
    claims_parameter_supported: false,
    dpop_signing_alg_values_supported: [...CLIENT_SIGNING_ALGORITHMS],
    authorization_response_iss_parameter_supported: true,
    require_pushed_authorization_requests: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: false,
    // RFC 8705 §3.3. No mtls_endpoint_aliases (§5): the endpoints themselves take certificates.
    tls_client_certificate_bound_access_tokens: mtls,
  };
}

export function registerDiscovery(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  const metadata = JSON.stringify(buildMetadata(services));
  const send = (_request: unknown, reply: FastifyReply) =>
    reply
      .header('content-type', 'application/json')
      .header('cache-control', 'public, max-age=3600')
      .header('access-control-allow-origin', '*')
      .send(metadata);
  // OIDC Discovery §4: issuer + /.well-known/openid-configuration.
  app.get(`${prefix}/.well-known/openid-configuration`, send);
  // RFC 8414 §3: the well-known segment goes between host and the issuer's path.
  app.get(`/.well-known/oauth-authorization-server${prefix}`, send);
}
