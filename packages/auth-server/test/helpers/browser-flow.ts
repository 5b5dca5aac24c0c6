import { createHash, randomBytes } from 'node:crypto';
import { createUserStore, type User } from '../../src/users/user-store.js';
import { parseForm, type ParsedForm } from '@gatehouse/testing';
import { CookieJar } from './cookie-jar.js';
import type { TestAuthServer } from './harness.js';

/** An RFC 7636 verifier and its S256 challenge. */
export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** A form as a browser would submit it: its action and every named control with its value. */
export { parseForm, type ParsedForm };

export interface PageResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** `Location` of a redirect, resolved against the request URL. */
  readonly location: string | undefined;
}

/**
 * A scripted browser: a cookie jar, no JavaScript, redirects NOT followed (each hop is asserted).
 * Every request of one Browser shares the jar, like one user agent.
 */
export class Browser {
  readonly jar = new CookieJar();

  async get(url: string, headers: Readonly<Record<string, string>> = {}): Promise<PageResponse> {
    return this.#send(url, { method: 'GET', headers: { ...headers } });
  }

  async post(
    url: string,
    form: Readonly<Record<string, string | undefined>>,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<PageResponse> {
    const body = new URLSearchParams();
    for (const [name, value] of Object.entries(form)) if (value !== undefined) body.append(name, value);
    return this.#send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: body.toString(),
    });
  }

  /** Submits the first form of a page with the given visible fields (hidden ones come along). */
  async submit(
    baseUrl: string,
    page: PageResponse,
    fields: Readonly<Record<string, string>>,
  ): Promise<PageResponse> {
    const form = parseForm(page.text);
    return this.post(new URL(form.action, baseUrl).toString(), { ...form.hidden, ...fields });
  }

  async #send(url: string, init: { method: string; headers: Record<string, string>; body?: string }) {
    const cookie = this.jar.header();
    if (cookie !== undefined) init.headers['cookie'] = cookie;
    const response = await fetch(url, { ...init, redirect: 'manual' });
    this.jar.store(response);
    const text = await response.text();
    const location = response.headers.get('location');
    return {
      status: response.status,
      headers: response.headers,
      text,
      location: location === null ? undefined : new URL(location, url).toString(),
    };
  }
}

/** The authorization endpoint URL with the given query parameters (absent values left out). */
export function authorizeUrl(
  as: TestAuthServer,
  params: Readonly<Record<string, string | undefined>>,
): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
  return `${as.url}/authorize?${query.toString()}`;
}

/** The query parameters of a redirect to the client. */
export function callbackParams(location: string | undefined): Record<string, string> {
  if (location === undefined) throw new Error('no redirect');
  return Object.fromEntries(new URL(location).searchParams);
}

export interface SignInOptions {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly username: string;
  readonly password: string;
  readonly scope?: string;
  readonly state?: string;
  readonly nonce?: string;
  readonly pkce?: Pkce;
  readonly resource?: string;
  /** Extra authorization parameters (prompt, max_age, dpop_jkt, ...). */
  readonly extra?: Readonly<Record<string, string>>;
  /** Approve the consent page if one is shown (default true). */
  readonly approve?: boolean;
}

export interface SignInResult {
  readonly pkce: Pkce;
  /** Final redirect to the client (after login, and consent if shown). */
  readonly location: string;
  readonly params: Record<string, string>;
  readonly consentShown: boolean;
}

/**
 * The whole browser part of the code flow through the real HTML: authorization request, login
 * form (hidden CSRF input + `username` / `password`), consent form when shown, final redirect.
 */
export async function signIn(
  as: TestAuthServer,
  browser: Browser,
  options: SignInOptions,
): Promise<SignInResult> {
  const challenge = options.pkce ?? pkce();
  let page = await browser.get(
    authorizeUrl(as, {
      response_type: 'code',
      client_id: options.clientId,
      redirect_uri: options.redirectUri,
      scope: options.scope,
      state: options.state ?? randomBytes(8).toString('hex'),
      nonce: options.nonce,
      code_challenge: challenge.challenge,
      code_challenge_method: 'S256',
      resource: options.resource,
      ...options.extra,
    }),
  );
  if (page.status === 200 && parseForm(page.text).inputs.includes('password')) {
    page = await browser.submit(as.url, page, { username: options.username, password: options.password });
  }
  let consentShown = false;
  if (page.status === 303 && page.location === `${as.url}/consent`) {
    page = await browser.get(page.location);
  }
  if (page.status === 200 && parseForm(page.text).buttons.includes('decision=approve')) {
    consentShown = true;
    page = await browser.submit(as.url, page, { decision: options.approve === false ? 'deny' : 'approve' });
  }
  if (page.location === undefined) throw new Error(`sign-in did not redirect (status ${page.status})`);
  return { pkce: challenge, location: page.location, params: callbackParams(page.location), consentShown };
}

/** Adds a local user through the same store the CLI uses. */
export async function addUser(
  as: TestAuthServer,
  input: Parameters<ReturnType<typeof createUserStore>['create']>[0],
): Promise<User> {
  return createUserStore(as.deps).create(input);
}

/** Polls until `check` returns a value (background work such as back-channel notifications). */
export async function eventually<T>(check: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
