export { GATEWAY_ID, ISSUER, NOW, NOW_MS } from './constants.js';
export { createTestPki, type TestPki } from './create-test-pki.js';
export { startJwksServer, type JwksServer } from './start-jwks-server.js';
export { createTokenSigner, unsecuredToken, type TokenSigner } from './create-token-signer.js';
export { send, type SendOptions, type TestResponse } from './send.js';
export {
  startServiceHarness,
  type ServiceHarness,
  type StartServiceHarnessOptions,
} from './start-service-harness.js';
export type { Caller, ScopeCase } from './caller.js';
