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
import {
  API,
  REDIRECT_URI,
  TEST_RESOURCES,
  newClient,
  tokenRequest,
  type TestClient,
} from '../helpers/oauth-client.js';

const PASSWORD = 'consent password 1';

describeEachStore('consent', (stores) => {
  let as: TestAuthServer;
  let thirdParty: TestClient;
  let firstParty: TestClient;
  let sub: string;

  beforeAll(async () => {
    as = await startAuthServer({
      stores,
      config: {
        resources: TEST_RESOURCES,
        login: { delayStepMs: 0, maxFailuresPerIp: 10_000, stuffingDistinctAccounts: 10_000 },
      },
    });
    thirdParty = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'profile', 'email', 'accounts:read'],
      resources: [API],
    });
    firstParty = await newClient(as, {
      grantTypes: ['authorization_code'],
      scopes: ['openid', 'profile', 'email', 'accounts:read'],
      firstParty: true,
    });
    sub = (await addUser(as, { username: 'olive', password: PASSWORD })).sub;
  });
  afterAll(async () => {
    await as.close();
  });

  /** Signs in (when needed) and stops at the consent page. */
  async function toConsent(browser: Browser, scope: string, extra: Record<string, string> = {}) {
    let page = await browser.get(
      authorizeUrl(as, {
        response_type: 'code',
        client_id: thirdParty.id,
        redirect_uri: REDIRECT_URI,
        scope,
        state: 'consent-state',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
        ...extra,
      }),
    );
    if (page.status === 200 && parseForm(page.text).inputs.includes('password')) {
      page = await browser.submit(as.url, page, { username: 'olive', password: PASSWORD });
      expect(page.status).toBe(303);
      expect(page.location).toBe(`${as.url}/consent`);
      page = await browser.get(page.location!);
    }
    return page;
  }

  it('asks a third-party client for consent, listing the scopes, on a CSRF-protected page', async () => {
    const browser = new Browser();
    const page = await toConsent(browser, 'openid profile accounts:read', { resource: API });
    expect(page.status).toBe(200);
    const form = parseForm(page.text);
    expect(form).toMatchObject({ action: `${as.url}/consent`, method: 'post', inputs: ['csrf'] });
    expect(form.buttons).toEqual(['decision=approve', 'decision=deny']);
    for (const scope of ['openid', 'profile', 'accounts:read'])
      expect(page.text).toContain(`<code>${scope}</code>`);
    expect(page.text).toContain(thirdParty.client.name);
    expect(page.text).toContain(API);
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).toContain(
      "form-action 'self' https://client.example",
    );
  });

  it('issues the code on approval, remembers the consent and skips the page next time', async () => {
    const browser = new Browser();
    const result = await signIn(as, browser, {
      clientId: thirdParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid profile',
      state: 'st',
    });
    expect(result.consentShown).toBe(true);
    expect(result.params).toEqual({ code: expect.any(String), state: 'st', iss: as.url });
    const tokens = await tokenRequest(as, thirdParty, {
      grant_type: 'authorization_code',
      code: result.params['code'],
      redirect_uri: REDIRECT_URI,
      code_verifier: result.pkce.verifier,
    });
    expect(tokens.status).toBe(200);
    const stored = await as.deps.db
      .selectFrom('consents')
      .selectAll()
      .where('sub', '=', sub)
      .where('client_id', '=', thirdParty.id)
      .executeTakeFirstOrThrow();
    expect(stored.scope.split(' ').sort()).toEqual(['openid', 'profile']);
    expect(as.audit).toContainEqual(
      expect.objectContaining({
        action: 'consent.grant',
        outcome: 'success',
        details: { scope: 'openid profile' },
      }),
    );

    // Same or fewer scopes: remembered, no page.
    const again = await signIn(as, browser, {
      clientId: thirdParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid',
    });
    expect(again.consentShown).toBe(false);

    // A new scope: asked again; the stored consent becomes the union.
    const wider = await signIn(as, browser, {
      clientId: thirdParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid email',
    });
    expect(wider.consentShown).toBe(true);
    const union = await as.deps.db
      .selectFrom('consents')
      .select('scope')
      .where('sub', '=', sub)
      .where('client_id', '=', thirdParty.id)
      .executeTakeFirstOrThrow();
    expect(union.scope.split(' ').sort()).toEqual(['email', 'openid', 'profile']);

    // prompt=consent asks even when remembered (OIDC Core §3.1.2.1).
    const forced = await signIn(as, browser, {
      clientId: thirdParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid',
      extra: { prompt: 'consent' },
    });
    expect(forced.consentShown).toBe(true);
  });

  it('answers access_denied to the client when the user denies (RFC 6749 §4.1.2.1)', async () => {
    const browser = new Browser();
    const result = await signIn(as, browser, {
      clientId: thirdParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid accounts:read',
      state: 'denied-state',
      approve: false,
    });
    expect(result.consentShown).toBe(true);
    expect(result.params).toEqual({
      error: 'access_denied',
      error_description: expect.any(String),
      state: 'denied-state',
      iss: as.url,
    });
    expect(as.audit).toContainEqual(expect.objectContaining({ action: 'consent.deny', outcome: 'failure' }));
  });

  it('answers consent_required for prompt=none without a remembered consent', async () => {
    const browser = new Browser();
    await signIn(as, browser, {
      clientId: firstParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid',
    });
    const page = await browser.get(
      authorizeUrl(as, {
        response_type: 'code',
        client_id: thirdParty.id,
        redirect_uri: REDIRECT_URI,
        scope: 'openid accounts:read email profile',
        state: 'pn',
        prompt: 'none',
        code_challenge: pkce().challenge,
        code_challenge_method: 'S256',
        resource: API,
      }),
    );
    // accounts:read was denied above and never stored.
    expect(page.status).toBe(302);
    expect(callbackParams(page.location)).toMatchObject({
      error: 'consent_required',
      state: 'pn',
      iss: as.url,
    });
  });

  it('skips consent for a first-party client, even with scopes never approved', async () => {
    const result = await signIn(as, new Browser(), {
      clientId: firstParty.id,
      redirectUri: REDIRECT_URI,
      username: 'olive',
      password: PASSWORD,
      scope: 'openid profile email accounts:read',
    });
    expect(result.consentShown).toBe(false);
    expect(result.params['code']).toBeDefined();
  });

  it('refuses a consent post with a wrong CSRF token or from a browser without the session', async () => {
    const browser = new Browser();
    const page = await toConsent(browser, 'openid accounts:read', { prompt: 'consent' });
    expect(page.status).toBe(200);
    const wrong = await browser.post(`${as.url}/consent`, { csrf: 'x'.repeat(43), decision: 'approve' });
    expect(wrong.status).toBe(403);
    expect(as.audit.at(-1)).toMatchObject({ action: 'csrf.refuse', reason: 'consent' });

    // The interaction cookie alone (no session cookie) cannot approve.
    const thief = new Browser();
    thief.jar.set('gh_interaction', browser.jar.get('gh_interaction')!.value);
    const stolen = await thief.post(`${as.url}/consent`, {
      ...parseForm(page.text).hidden,
      decision: 'approve',
    });
    expect(stolen.status).toBe(400);
    expect(stolen.location).toBeUndefined();

    const unknownDecision = await browser.submit(as.url, page, { decision: 'maybe' });
    expect(unknownDecision.status).toBe(400);
  });

  it('completes a consent once: a double submission issues one code', async () => {
    const browser = new Browser();
    const page = await toConsent(browser, 'openid', { prompt: 'consent' });
    const form = { ...parseForm(page.text).hidden, decision: 'approve' };
    const interactionId = browser.jar.get('gh_interaction')!.value;
    const first = await browser.post(`${as.url}/consent`, form);
    expect(first.status).toBe(303);
    expect(callbackParams(first.location)['code']).toBeDefined();
    // The browser re-sends the same form with the same cookies (double click, back button).
    browser.jar.set('gh_interaction', interactionId);
    const second = await browser.post(`${as.url}/consent`, form);
    expect(second.status).toBe(400);
    expect(second.location).toBeUndefined();
  });
});
