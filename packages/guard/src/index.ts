// Token verification
export {
  createVerifier,
  type Verifier,
  type VerifierOptions,
  type VerificationCacheOptions,
} from './jwt/create-verifier.js';
export type { Principal, Confirmation } from './jwt/principal.js';
export { GuardError, isGuardError, type GuardErrorOptions } from './errors.js';
export type { GuardEvent, GuardEventListener, VerifierStats } from './events.js';
export {
  ALGORITHMS,
  DEFAULT_ALGORITHMS,
  type Algorithm,
  type AsymmetricAlgorithm,
  type SymmetricAlgorithm,
} from './jws/algorithms.js';
export { REMOTE_KEY_SET_DEFAULTS, type RemoteKeySetOptions } from './jwks/remote-key-set.js';
export type { RevocationSource, RevocationTarget } from './revocation/revocation-list.js';

// Authorization
export { requireScopes, type RequireScopesOptions } from './scopes/require-scopes.js';
export {
  createPolicy,
  type Decision,
  type Policy,
  type PolicyOptions,
  type PolicyPrincipal,
  type PolicyRules,
  type Resource,
} from './policy/create-policy.js';
export { allOf, anyOf, owner, role, scope, tenant, describeRule, type Rule } from './policy/rules.js';
export {
  matchesFilter,
  toSqlWhere,
  type Condition,
  type QueryFilter,
  type SqlWhere,
} from './policy/query-filter.js';

// Sender-constrained tokens
export {
  createDpopVerifier,
  type DpopOptions,
  type DpopRequest,
  type DpopVerifier,
  type VerifiedDpopProof,
} from './dpop/create-dpop-verifier.js';
export { MemoryReplayStore, type MemoryReplayStoreOptions, type ReplayStore } from './dpop/replay-store.js';
export { normalizeHtu } from './dpop/normalize-htu.js';
export {
  certificateThumbprint,
  getPeerCertificate,
  parseSubjectAltName,
  type PeerCertificate,
  type SubjectAltNames,
} from './mtls/peer-certificate.js';
export {
  confirmCertificateBinding,
  requirePeerIdentity,
  type PeerIdentityRule,
} from './mtls/certificate-binding.js';

// Framework-neutral request authentication (the adapters are in subpath exports)
export {
  createGuard,
  type Guard,
  type GuardLogger,
  type GuardOptions,
  type GuardRequest,
} from './adapters/create-guard.js';
