import type { AsymmetricAlgorithm } from '@gatehouse/guard';

/**
 * Algorithms accepted from clients: DPoP proofs and private_key_jwt assertions. Guard's defaults
 * plus `Ed25519`, the fully-specified name (RFC 9864 §2) that current client libraries
 * (openid-client, oauth4webapi) use for Ed25519 keys. Advertised in discovery as such.
 */
export const CLIENT_SIGNING_ALGORITHMS: readonly AsymmetricAlgorithm[] = [
  'ES256',
  'EdDSA',
  'Ed25519',
  'RS256',
  'PS256',
];
