import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  Browser,
  addUser,
  authorizeUrl,
  callbackParams,
  parseForm,
  pkce,
  signIn,
} from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { REDIRECT_URI, newClient, tokenRequest, type TestClient } from '../helpers/oauth-client.js';

describeEachStore('prompt, max_age and id_token_hint (OIDC Core §3.1.2.1)', (stores) => {
  let as: TestAuthServer;
  let client: TestClient;

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { login: { delayStepMs: 0 } } });
    client = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes: ['openid'],
      firstParty: true,
    });
    await addUser(as, { username: 'pia', password: 'pia password 1' });
    await addUser(as, { username: 'quinn', password: 'quinn password 1' });
  });
  afterAll(async () => {
    await as.close();
  });

  const request = (browser: Browser, extra: Record<string, string>) =>
    browser.get(
      authorizeUrl(as, {
        response_type: 'code',
        client_id: client.id,
        redirect_uri: REDIRECT_URI,
        scope: 'openid',
        state: 'p-state',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
        ...extra,
      }),
    );
  const isLoginPage = (page: { status: number; text: string }): boolean =>
    page.status === 200 && parseForm(page.text).inputs.includes('password');

  async function signedIn(username = 'pia'): Promise<Browser> {
    const browser = new Browser();
    await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username,
      password: `${username} password 1`,
    });
    return browser;
  }

  async function idTokenFor(username: string): Promise<string> {
    const browser = new Browser();
    const result = await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username,
      password: `${username} password 1`,
      scope: 'openid',
    });
    const tokens = await tokenRequest(as, client, {
      grant_type: 'authorization_code',
      code: result.params['code'],
      redirect_uri: REDIRECT_URI,
      code_verifier: result.pkce.verifier,
    });
    return tokens.body['id_token'] as string;
  }

  it('prompt=none without a session: login_required to the client, with state and iss', async () => {
    const page = await request(new Browser(), { prompt: 'none' });
    expect(page.status).toBe(302);
    expect(callbackParams(page.location)).toEqual({
      error: 'login_required',
      error_description: expect.any(String),
      state: 'p-state',
      iss: as.url,
    });
    expect(as.audit.at(-1)).toMatchObject({
      action: 'authorization.refuse',
      reason: 'ERR_OAUTH_LOGIN_REQUIRED',
    });
  });

  it('prompt=none with a session: the code at once, no page', async () => {
    const page = await request(await signedIn(), { prompt: 'none' });
    expect(page.status).toBe(302);
    expect(callbackParams(page.location)).toEqual({
      code: expect.any(String),
      state: 'p-state',
      iss: as.url,
    });
  });

  it('prompt=login shows the login form despite a session', async () => {
    expect(isLoginPage(await request(await signedIn(), { prompt: 'login' }))).toBe(true);
  });

  it('ignores prompt values it does not implement (select_account)', async () => {
    const page = await request(await signedIn(), { prompt: 'select_account' });
    expect(page.status).toBe(302);
  });

  it('max_age: a recent enough login is reused, an older one needs a new login', async () => {
    const browser = await signedIn();
    as.clock.advance(100);
    expect((await request(browser, { max_age: '200' })).status).toBe(302);
    expect(isLoginPage(await request(browser, { max_age: '50' }))).toBe(true);
    expect(isLoginPage(await request(browser, { max_age: '0' }))).toBe(true);
    const none = await request(browser, { max_age: '50', prompt: 'none' });
    expect(callbackParams(none.location)['error']).toBe('login_required');
  });

  it('id_token_hint: another user than the session needs a login; the same user passes', async () => {
    const quinnHint = await idTokenFor('quinn');
    const piaHint = await idTokenFor('pia');
    const browser = await signedIn('pia');
    const mismatch = await request(browser, { prompt: 'none', id_token_hint: quinnHint });
    expect(callbackParams(mismatch.location)['error']).toBe('login_required');
    expect(isLoginPage(await request(browser, { id_token_hint: quinnHint }))).toBe(true);
    // An expired hint still names the user (OIDC Core §3.1.2.1 allows it).
    as.clock.advance(3600);
    const same = await request(browser, { prompt: 'none', id_token_hint: piaHint });
    expect(callbackParams(same.location)['code']).toBeDefined();
  });

  it('refuses an id_token_hint this server did not sign', async () => {
    const hint = await idTokenFor('pia');
    const [header, payload] = hint.split('.');
    const forged = `${header!}.${payload!}.${'A'.repeat(86)}`;
    const page = await request(await signedIn(), { id_token_hint: forged });
    expect(page.status).toBe(302);
    expect(callbackParams(page.location)['error']).toBe('invalid_request');
  });
});
