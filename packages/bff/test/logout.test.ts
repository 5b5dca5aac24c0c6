import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postForm } from '../../gateway/test/support/auth-server.js';
import { Browser } from './support/browser.js';
import { SESSION_COOKIE, sameOriginHeaders, startBffStack, type BffStack } from './support/bff-stack.js';

describe('logout: session ended, refresh token revoked, cookie cleared, RP-initiated logout', () => {
  let stack: BffStack;
  beforeAll(async () => {
    stack = await startBffStack();
  });
  afterAll(async () => {
    await stack.close();
  });

  it('POST /auth/logout ends everything and sends the browser to the end_session_endpoint', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const session = (await stack.sessionOf(browser))!;
    const old = browser.cookie(SESSION_COOKIE)!.value;

    const out = await browser.request(`${stack.url}/auth/logout`, {
      method: 'POST',
      headers: sameOriginHeaders(stack),
    });
    expect(out.status).toBe(303);
    expect(out.headers.getSetCookie()).toEqual([
      `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`,
    ]);
    const location = new URL(out.location!);
    expect(`${location.origin}${location.pathname}`).toBe(`${stack.as.issuer}/logout`);
    expect(Object.fromEntries(location.searchParams)).toEqual({
      id_token_hint: session.idToken,
      post_logout_redirect_uri: `${stack.url}/`,
      client_id: stack.client.clientId,
    });

    // The server session is gone: the old cookie is dead.
    const replay = new Browser();
    replay.setCookie(SESSION_COOKIE, old);
    expect(JSON.parse((await replay.get(`${stack.url}/auth/session`)).text)).toEqual({
      authenticated: false,
    });
    expect((await replay.get(`${stack.url}/api/accounts`)).status).toBe(401);

    // RFC 7009: the refresh token no longer works at the OP.
    const refresh = await postForm(stack.as.tokenEndpoint, stack.client, {
      grant_type: 'refresh_token',
      refresh_token: session.refreshToken!,
    });
    expect(refresh.status).toBe(400);
    expect(refresh.body['error']).toBe('invalid_grant');

    // The OP ends its own session on the hint and returns to the registered URI.
    const back = await browser.get(out.location!);
    expect(back.status).toBe(302);
    expect(back.location).toBe(`${stack.url}/`);
    expect(stack.as.audit.some((e) => e.action === 'logout' && e.outcome === 'success')).toBe(true);
    expect(stack.audit.some((e) => e.action === 'bff.logout' && e.details?.['revoked'] === true)).toBe(true);
  });

  it('a page calling with Accept: application/json gets the URL to navigate to', async () => {
    const browser = new Browser();
    await stack.login(browser);
    const out = await browser.request(`${stack.url}/auth/logout`, {
      method: 'POST',
      headers: { ...sameOriginHeaders(stack), accept: 'application/json' },
    });
    expect(out.status).toBe(200);
    const body = JSON.parse(out.text) as { redirectTo: string };
    // Never the end-session URL itself: it carries the ID token, which no script may read.
    expect(body).toEqual({ redirectTo: `${stack.url}/auth/logout/continue` });
    expect(browser.cookie(SESSION_COOKIE)).toBeUndefined();
    const handoff = browser.cookie('bff_logout');
    expect(handoff?.attributes).toMatchObject({ httponly: true, path: '/', 'max-age': '60' });
    // The navigation: 303 to the OP's end_session_endpoint with the hint, once.
    const next = await browser.get(body.redirectTo);
    expect(next.status).toBe(303);
    expect(next.headers.get('cache-control')).toBe('no-store');
    const location = new URL(next.location ?? '');
    expect(`${location.origin}${location.pathname}`).toBe(`${stack.as.issuer}/logout`);
    expect(location.searchParams.get('id_token_hint')).toMatch(/^ey/);
    expect(browser.cookie('bff_logout')).toBeUndefined();
    const again = await browser.get(body.redirectTo);
    expect(again.location).toBe(`${stack.url}/`);
  });

  describe('the logout handoff refuses what it did not seal itself, now', () => {
    const cases: { name: string; cookie: (value: string) => string | undefined; advanceSec?: number }[] = [
      { name: 'no handoff cookie', cookie: () => undefined },
      { name: 'a tampered handoff', cookie: (v) => `${v.slice(0, -4)}AAAA` },
      { name: 'another format', cookie: () => 'http%3A%2F%2Fevil.example' },
      {
        name: 'a sealed value from another key',
        cookie: () => 'v1.AAAAAAAAAAAAAAAA.AAAA.AAAAAAAAAAAAAAAAAAAAAA',
      },
      { name: 'an expired handoff (61 s later)', cookie: (v) => v, advanceSec: 61 },
    ];
    it.each(cases)('$name → the post-logout page', async ({ cookie, advanceSec }) => {
      const browser = new Browser();
      await stack.login(browser);
      await browser.request(`${stack.url}/auth/logout`, {
        method: 'POST',
        headers: { ...sameOriginHeaders(stack), accept: 'application/json' },
      });
      const sealed = browser.cookie('bff_logout')?.value ?? '';
      expect(sealed).not.toBe('');
      const forged = cookie(sealed);
      browser.deleteCookie('bff_logout');
      if (forged !== undefined) browser.setCookie('bff_logout', forged);
      if (advanceSec !== undefined) stack.clock.advance(advanceSec);
      try {
        const next = await browser.get(`${stack.url}/auth/logout/continue`);
        expect(next.status).toBe(303);
        expect(next.location).toBe(`${stack.url}/`);
      } finally {
        if (advanceSec !== undefined) stack.clock.advance(-advanceSec);
      }
    });
  });

  it('without a session: the cookie is cleared and the browser goes to the post-logout page', async () => {
    const out = await new Browser().request(`${stack.url}/auth/logout`, {
      method: 'POST',
      headers: sameOriginHeaders(stack),
    });
    expect(out.status).toBe(303);
    expect(out.location).toBe(`${stack.url}/`);
  });

  it('sessions are listable and revocable per user (functions)', async () => {
    const a = new Browser();
    const b = new Browser();
    await stack.login(a, stack.bob);
    await stack.login(b, stack.bob);
    const listed = await stack.bff.sessions.list(stack.bob.sub);
    expect(listed.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(listed)).not.toContain((await stack.sessionOf(a))!.accessToken);
    expect(await stack.bff.sessions.revoke({ sub: stack.bob.sub })).toBe(listed.length);
    expect(await stack.sessionOf(a)).toBeUndefined();
    expect(await stack.sessionOf(b)).toBeUndefined();
    expect(await stack.bff.sessions.list(stack.bob.sub)).toEqual([]);
  });
});
