import { createLogger, type AuditEvent } from '@gatehouse/core';
import type { ResourceService, ResourceServiceOptions } from '../service/create-resource-service.js';
import { GATEWAY_ID, ISSUER, NOW_MS } from './constants.js';
import { createTestPki, type TestPki } from './create-test-pki.js';
import { createTokenSigner, type TokenSigner } from './create-token-signer.js';
import { send, type SendOptions, type TestResponse } from './send.js';
import { startJwksServer } from './start-jwks-server.js';

export interface StartServiceHarnessOptions {
  /** Component name (logger, signing key id `<component>-test`). */
  readonly component: string;
  /** The audience the service is configured with. */
  readonly audience: string;
  create(options: ResourceServiceOptions): ResourceService;
}

export interface ServiceHarness {
  readonly pki: TestPki;
  readonly signer: TokenSigner;
  readonly url: string;
  /** Every audit event the service emitted, in order. */
  readonly events: AuditEvent[];
  /** A request as the gateway makes it (gateway certificate) unless `client` says otherwise. */
  call(path: string, options?: SendOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

/** A service on port 0, an in-memory database, a static JWKS and the frozen clock. */
export async function startServiceHarness(options: StartServiceHarnessOptions): Promise<ServiceHarness> {
  const pki = await createTestPki();
  const signer = await createTokenSigner(`${options.component}-test`);
  const jwks = await startJwksServer([signer.jwk]);
  const events: AuditEvent[] = [];
  const service = options.create({
    tls: { cert: pki.service.certPem, key: pki.service.keyPem, ca: pki.caPem },
    gatewayIdentity: GATEWAY_ID,
    issuer: ISSUER,
    jwksUri: jwks.url,
    audience: options.audience,
    databaseFile: ':memory:',
    logger: createLogger({ component: options.component, level: 'silent' }),
    audit: (event) => void events.push(event),
    now: () => NOW_MS,
  });
  const url = await service.listen();
  return {
    pki,
    signer,
    url,
    events,
    call: (path, sendOptions = {}) =>
      send(url, pki.caPem, path, {
        ...sendOptions,
        client: 'client' in sendOptions ? sendOptions.client : pki.gateway,
      }),
    async close() {
      await service.close();
      await jwks.close();
    },
  };
}
