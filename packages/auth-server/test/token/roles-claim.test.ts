import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Browser, addUser, signIn } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  API,
  OTHER_API,
  REDIRECT_URI,
  newClient,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

const PASSWORD = 'roles password 1';

describeEachStore(
  'access tokens: roles only for resources that ask for them (RFC 9068 §7.2.1.1)',
  (stores) => {
    let as: TestAuthServer;
    let app: TestClient;
    let machine: TestClient;

    beforeAll(async () => {
      as = await startAuthServer({
        stores,
        config: {
          resources: [
            { id: API, scopes: ['accounts:read'], includeRoles: true },
            { id: OTHER_API, scopes: ['orders:read'] },
          ],
          login: { delayStepMs: 0 },
        },
      });
      app = await newClient(as, {
        grantTypes: ['authorization_code'],
        scopes: ['openid', 'accounts:read', 'orders:read'],
        resources: [API, OTHER_API],
        tokenFormat: 'jwt',
        firstParty: true,
      });
      machine = await newClient(as, {
        grantTypes: ['client_credentials'],
        scopes: ['accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
      });
      await addUser(as, { username: 'root', password: PASSWORD, roles: ['admin'] });
    });
    afterAll(async () => {
      await as.close();
    });

    async function userToken(resource: string, scope: string): Promise<Record<string, unknown>> {
      const result = await signIn(as, new Browser(), {
        clientId: app.id,
        redirectUri: REDIRECT_URI,
        username: 'root',
        password: PASSWORD,
        scope,
        resource,
      });
      const tokens = await tokenRequest(as, app, {
        grant_type: 'authorization_code',
        code: result.params['code'],
        redirect_uri: REDIRECT_URI,
        code_verifier: result.pkce.verifier,
        resource,
      });
      expect(tokens.status).toBe(200);
      return decodeJwt(String(tokens.body['access_token']));
    }

    it('carries the user roles for a resource with includeRoles', async () => {
      expect((await userToken(API, 'openid accounts:read'))['roles']).toEqual(['admin']);
    });

    it('carries no roles for other resources', async () => {
      expect(await userToken(OTHER_API, 'openid orders:read')).not.toHaveProperty('roles');
    });

    it('carries no roles in client-credentials tokens', async () => {
      const tokens = await tokenRequest(as, machine, { grant_type: 'client_credentials', resource: API });
      expect(tokens.status).toBe(200);
      expect(decodeJwt(String(tokens.body['access_token']))).not.toHaveProperty('roles');
    });
  },
);
