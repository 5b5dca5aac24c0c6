import type { AuthServerDeps } from './context.js';
import type { Client } from './clients/client.js';
import type { ClientStore } from './clients/client-store.js';
import type { ClientCredentials } from './clients/authenticate-client.js';
import type { KeyService } from './keys/key-service.js';
import type { CertificateReader } from './mtls/create-certificate-reader.js';

/** Absolute URLs of the endpoints, as advertised in discovery (the contract for clients). */
export interface Endpoints {
  readonly issuer: string;
  readonly authorization: string;
  readonly token: string;
  readonly jwks: string;
  readonly userinfo: string;
  readonly par: string;
  readonly introspection: string;
  readonly revocation: string;
  readonly endSession: string;
  readonly login: string;
  readonly consent: string;
}

/** Path of each endpoint under the issuer's path. */
export const ENDPOINT_PATHS = {
  authorization: '/authorize',
  token: '/token',
  jwks: '/jwks',
  userinfo: '/userinfo',
  par: '/par',
  introspection: '/introspect',
  revocation: '/revoke',
  endSession: '/logout',
  login: '/login',
  consent: '/consent',
} as const;

export function buildEndpoints(issuer: string): Endpoints {
  const entries = Object.entries(ENDPOINT_PATHS).map(([name, path]) => [name, `${issuer}${path}`]);
  return { issuer, ...Object.fromEntries(entries) } as Endpoints;
}

/** The long-lived parts of a running server, shared by every action. Stateless stores are made per use. */
export interface AuthServerServices {
  readonly deps: AuthServerDeps;
  readonly endpoints: Endpoints;
  readonly keys: KeyService;
  readonly clients: ClientStore;
  readonly authenticateClient: (credentials: ClientCredentials) => Promise<Client>;
  /** The TLS client certificate of a request (RFC 8705), from the socket or a trusted proxy. */
  readonly readCertificate: CertificateReader;
}
