import { requireService } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { missingBuild } from '../support/demo-stack.js';
import { basic, call, startCluster, type Cluster } from './support/cluster.js';

const postgres = await requireService('postgres', 'key rotation under load');
const redis = await requireService('redis', 'key rotation under load');
const built = missingBuild().length === 0;
if (!built && process.env['GATEHOUSE_REQUIRE_ALL'] === '1')
  throw new Error('key rotation: run npm run build');

// A new signing key every 4 s: published 2 s before it signs (at least the JWKS max-age of 1 s plus
// one lifecycle tick), so every verifier has it before the first token it signs (RFC 7517 §5 key sets).
const KEYS = { rotationIntervalSec: 4, prePublishSec: 2, jwksMaxAgeSec: 1, checkIntervalSec: 1 };
const RUN_MS = 13_000;

describe.skipIf(!postgres.available || !redis.available || !built)(
  'signing-key rotation every few seconds under sustained load',
  () => {
    let cluster: Cluster;
    let tokenPath: string;

    beforeAll(async () => {
      cluster = await startCluster({ bff: 0, authServer: { keys: KEYS } });
      const metadata = (await call(`${cluster.issuer}/.well-known/oauth-authorization-server`)).body as {
        token_endpoint: string;
      };
      tokenPath = new URL(metadata.token_endpoint).pathname;
    }, 120_000);
    afterAll(async () => {
      await cluster.close();
    }, 30_000);

    it('zero failed requests while keys rotate on two auth servers, through two gateways', async () => {
      const failures: string[] = [];
      let issued = 0;
      let served = 0;
      const kids = new Set<string>();
      const started = Date.now();
      // Each loop: a fresh token (alternating auth servers and token formats), then calls with it
      // through both gateways, so tokens signed by each new key meet verifiers right away.
      await Promise.all(
        Array.from({ length: 4 }, async (_, loop) => {
          const client = loop % 2 === 0 ? cluster.clients.jwt : cluster.clients.opaque;
          for (let n = 0; Date.now() - started < RUN_MS; n++) {
            const auth = cluster.instances.auth[(loop + n) % 2]!.url;
            const answer = await call(`${auth}${tokenPath}`, {
              method: 'POST',
              headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
              body: new URLSearchParams({
                grant_type: 'client_credentials',
                resource: cluster.apiAudience,
                scope: 'echo:read',
              }).toString(),
            });
            if (answer.status !== 200) {
              failures.push(`token ${answer.status} ${JSON.stringify(answer.body)}`);
              continue;
            }
            issued++;
            const token = (answer.body as { access_token: string }).access_token;
            if (client === cluster.clients.jwt) {
              const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as {
                kid: string;
              };
              kids.add(header.kid);
            }
            for (const gateway of cluster.instances.gateway) {
              for (let call = 0; call < 3; call++) {
                const response = await fetch(`${gateway.url}/api/rotation`, {
                  headers: { authorization: `Bearer ${token}` },
                });
                const text = await response.text();
                if (response.status === 200) served++;
                else
                  failures.push(
                    `gateway ${gateway.index} ${client === cluster.clients.jwt ? 'jwt' : 'opaque'} ${response.status} ${text} at=${Date.now()} kid=${client === cluster.clients.jwt ? (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid : ''}`,
                  );
              }
            }
          }
        }),
      );
      expect(failures).toEqual([]);
      // At least three keys signed tokens during the run, and every internal JWT the service got
      // was exchanged and forwarded.
      expect(kids.size).toBeGreaterThanOrEqual(3);
      expect(issued).toBeGreaterThan(100);
      expect(served).toBe(issued * 6);
      const keys = await cluster.query<{ status: string }>(
        `SELECT status FROM signing_keys WHERE status = 'active'`,
      );
      expect(keys).toHaveLength(1);
      // RUN_MS of load, then the loops' last rounds and the checks: room for a slow machine.
    }, 60_000);
  },
);
