import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  SecretWatch,
  expectErrorPage,
  expectErrorRedirect,
  expectLoginPage,
  expectOAuthError,
  rawAuthorizeUrl,
  type AttackCase,
} from '../helpers/attack-table.js';
import { Browser, addUser, signIn, type Pkce } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  REDIRECT_URI,
  basic,
  newClient,
  postForm,
  type FormResponse,
  type TestClient,
} from '../helpers/oauth-client.js';

/**
 * PKCE attacks (RFC 7636, RFC 9700 §2.1.1 and §4.8, OAuth 2.1 §4.1.1): every client must send an
 * S256 challenge of exactly 43 base64url characters; `plain`, a missing or unknown method and a
 * missing verifier at the token endpoint (downgrade) are refused; the verifier must be 43-128
 * unreserved characters (RFC 7636 §4.1) and hash to the challenge (§4.6).
 */

const PASSWORD = 'pkce attack password 1';
const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');
const pair = (verifier: string): Pkce => ({ verifier, challenge: s256(verifier) });
const randomVerifier = (): string => randomBytes(32).toString('base64url');
const UNRESERVED = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';

// --- The authorization request (the challenge) -------------------------------------------------

interface ChallengeCase extends AttackCase {
  /** Replaces code_challenge / code_challenge_method (undefined leaves one out). */
  readonly params: Readonly<Record<string, string | undefined>>;
  /** Query pairs appended verbatim. */
  readonly append?: ReadonlyArray<readonly [string, string]>;
  /** invalid_request back to the client (the client is known good), or a page (nothing is). */
  readonly expected: 'redirect invalid_request' | 'error page';
}

const VALID_CHALLENGE = s256(randomVerifier());

const challengeCases: ChallengeCase[] = [
  {
    name: 'missing code_challenge',
    source: 'RFC 9700 §2.1.1, OAuth 2.1 §4.1.1',
    params: { code_challenge: undefined },
    expected: 'redirect invalid_request',
  },
  {
    name: 'no PKCE parameters at all',
    source: 'RFC 9700 §2.1.1, RFC 7636 §4.4.1',
    params: { code_challenge: undefined, code_challenge_method: undefined },
    expected: 'redirect invalid_request',
  },
  {
    name: 'code_challenge_method=plain',
    source: 'RFC 9700 §2.1.1 (S256 only), RFC 7636 §7.2',
    params: { code_challenge_method: 'plain' },
    expected: 'redirect invalid_request',
  },
  {
    name: 'plain with a verifier-looking 64-character challenge',
    source: 'RFC 9700 §2.1.1, RFC 7636 §7.2',
    params: { code_challenge: 'p'.repeat(64), code_challenge_method: 'plain' },
    expected: 'redirect invalid_request',
  },
  {
    name: 'code_challenge_method missing (RFC 7636 would default to plain)',
    source: 'RFC 7636 §4.3, RFC 9700 §2.1.1',
    params: { code_challenge_method: undefined },
    expected: 'redirect invalid_request',
  },
  {
    name: 'unknown method S512',
    source: 'RFC 7636 §4.3, §4.4.1',
    params: { code_challenge_method: 'S512' },
    expected: 'redirect invalid_request',
  },
  {
    name: 'method in lower case (s256)',
    source: 'RFC 7636 §4.3 (case-sensitive value)',
    params: { code_challenge_method: 's256' },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge one character short (42)',
    source: 'RFC 7636 §4.2 (BASE64URL of 32 bytes = 43)',
    params: { code_challenge: VALID_CHALLENGE.slice(0, 42) },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge one character long (44)',
    source: 'RFC 7636 §4.2',
    params: { code_challenge: `${VALID_CHALLENGE}A` },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge of 128 characters (a plain verifier, not a hash)',
    source: 'RFC 7636 §4.2',
    params: { code_challenge: 'a'.repeat(128) },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge with base64 padding',
    source: 'RFC 7636 §3 (base64url without padding)',
    params: { code_challenge: `${VALID_CHALLENGE}=` },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge in standard base64 alphabet (+ and /)',
    source: 'RFC 7636 §3, RFC 4648 §5',
    params: { code_challenge: `+/${VALID_CHALLENGE.slice(2)}` },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge as hexadecimal SHA-256',
    source: 'RFC 7636 §4.2',
    params: { code_challenge: createHash('sha256').update('x').digest('hex') },
    expected: 'redirect invalid_request',
  },
  {
    name: 'challenge with a space inside',
    source: 'RFC 7636 §4.2',
    params: { code_challenge: `${VALID_CHALLENGE.slice(0, 20)} ${VALID_CHALLENGE.slice(21)}` },
    expected: 'redirect invalid_request',
  },
  {
    name: 'two code_challenge parameters',
    source: 'RFC 6749 §3.1',
    params: {},
    append: [['code_challenge', s256(randomVerifier())]],
    expected: 'error page',
  },
  {
    name: 'two code_challenge_method parameters (S256 then plain)',
    source: 'RFC 6749 §3.1',
    params: {},
    append: [['code_challenge_method', 'plain']],
    expected: 'error page',
  },
];

// --- The token request (the verifier) ----------------------------------------------------------

interface VerifierCase extends AttackCase {
  readonly client: 'confidential' | 'public';
  /** The PKCE pair of the authorization request. */
  readonly pkce: () => Pkce;
  /** The code_verifier sent at the token endpoint, given the pair (undefined: left out). */
  readonly verifier: (own: Pkce, other: Pkce) => string | undefined;
  /** After the refusal, the right verifier still redeems the code (a failed try does not burn it). */
  readonly retry: boolean;
}

const ownVerifier = (own: Pkce): string => own.verifier;

const verifierCases: VerifierCase[] = [
  {
    name: 'downgrade: S256 at authorization, no code_verifier at the token endpoint',
    source: 'RFC 9700 §4.8.2, RFC 7636 §4.6',
    client: 'confidential',
    pkce: () => pair(randomVerifier()),
    verifier: () => undefined,
    retry: true,
  },
  {
    name: 'downgrade by a public client (no verifier)',
    source: 'RFC 9700 §4.8.2, RFC 8252 §8.1',
    client: 'public',
    pkce: () => pair(randomVerifier()),
    verifier: () => undefined,
    retry: true,
  },
  {
    name: 'verifier that does not match',
    source: 'RFC 7636 §4.6',
    client: 'confidential',
    pkce: () => pair(randomVerifier()),
    verifier: () => randomVerifier(),
    retry: true,
  },
  {
    name: 'verifier of another flow of the same client',
    source: 'RFC 7636 §4.6, RFC 9700 §4.5.3.1 (code injection)',
    client: 'confidential',
    pkce: () => pair(randomVerifier()),
    verifier: (_own, other) => other.verifier,
    retry: true,
  },
  {
    name: 'verifier of another flow, public client',
    source: 'RFC 7636 §4.6, RFC 9700 §4.5.3.1 (code injection)',
    client: 'public',
    pkce: () => pair(randomVerifier()),
    verifier: (_own, other) => other.verifier,
    retry: true,
  },
  {
    name: 'the challenge itself as verifier (plain transformation)',
    source: 'RFC 7636 §4.6, RFC 9700 §2.1.1',
    client: 'confidential',
    pkce: () => pair(randomVerifier()),
    verifier: (own) => own.challenge,
    retry: true,
  },
  {
    name: 'verifier with its case changed',
    source: 'RFC 7636 §4.6',
    client: 'confidential',
    pkce: () => pair(`abc${randomVerifier().slice(3)}`),
    verifier: (own) => own.verifier.toUpperCase(),
    retry: true,
  },
  {
    name: 'empty code_verifier (treated as absent)',
    source: 'RFC 6749 §3.1, RFC 7636 §4.6',
    client: 'confidential',
    pkce: () => pair(randomVerifier()),
    verifier: () => '',
    retry: true,
  },
  // The challenge really is the S256 of these verifiers: only the RFC 7636 §4.1 syntax refuses them.
  {
    name: 'verifier of 42 characters (too short)',
    source: 'RFC 7636 §4.1 (43-128 characters)',
    client: 'confidential',
    pkce: () => pair('v'.repeat(42)),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier of 129 characters (too long)',
    source: 'RFC 7636 §4.1 (43-128 characters)',
    client: 'confidential',
    pkce: () => pair('v'.repeat(129)),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier with + and / (not unreserved)',
    source: 'RFC 7636 §4.1 (unreserved characters)',
    client: 'confidential',
    pkce: () => pair(`+/${randomVerifier()}`),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier with a space',
    source: 'RFC 7636 §4.1 (unreserved characters)',
    client: 'confidential',
    pkce: () => pair(`${randomVerifier()} x`),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier with base64 padding',
    source: 'RFC 7636 §4.1 (unreserved characters)',
    client: 'confidential',
    pkce: () => pair(`${randomVerifier()}=`),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier with a non-ASCII character',
    source: 'RFC 7636 §4.1 (ASCII unreserved characters)',
    client: 'confidential',
    pkce: () => pair(`${randomVerifier()}\u00e9`),
    verifier: ownVerifier,
    retry: false,
  },
  {
    name: 'verifier with a trailing newline',
    source: 'RFC 7636 §4.1 (unreserved characters)',
    client: 'confidential',
    pkce: () => pair(`${randomVerifier()}\n`),
    verifier: ownVerifier,
    retry: false,
  },
];

// Positive controls: the boundaries of RFC 7636 §4.1 are accepted.
const acceptedVerifiers: Array<AttackCase & { readonly verifier: string }> = [
  {
    name: '43 characters, every unreserved character kind',
    source: 'RFC 7636 §4.1',
    verifier: `${UNRESERVED.slice(0, 39)}-._~`,
  },
  { name: '128 characters', source: 'RFC 7636 §4.1', verifier: UNRESERVED.repeat(2).slice(0, 128) },
  { name: 'a random 43-character verifier', source: 'RFC 7636 §4.1, Appendix B', verifier: randomVerifier() },
];

describeEachStore('attacks: PKCE', (stores) => {
  let as: TestAuthServer;
  let confidential: TestClient;
  let publicClient: TestClient;
  let browser: Browser;
  const watch = new SecretWatch();

  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { login: { delayStepMs: 0 } } });
    const common = { scopes: ['openid'], firstParty: true, grantTypes: ['authorization_code' as const] };
    confidential = await newClient(as, common);
    publicClient = await newClient(as, { ...common, authMethod: 'none' });
    watch.add('client secret', confidential.secret);
    watch.add('password', PASSWORD);
    await addUser(as, { username: 'pat', password: PASSWORD });
    // One signed-in browser: every later authorization request is answered at once (SSO).
    browser = new Browser();
    await signIn(as, browser, {
      clientId: publicClient.id,
      redirectUri: REDIRECT_URI,
      username: 'pat',
      password: PASSWORD,
    });
    watch.add('session cookie', browser.jar.get('gh_session')?.value);
  });
  afterAll(async () => {
    watch.expectNoLeaks(as);
    await as.close();
  });

  const clientOf = (name: 'confidential' | 'public'): TestClient =>
    name === 'public' ? publicClient : confidential;

  /** A real code from the authorization endpoint for this PKCE pair. */
  const codeFor = async (client: TestClient, pkce: Pkce): Promise<string> => {
    const result = await signIn(as, browser, {
      clientId: client.id,
      redirectUri: REDIRECT_URI,
      username: 'pat',
      password: PASSWORD,
      scope: 'openid',
      pkce,
    });
    const code = result.params['code'];
    expect(code).toBeDefined();
    watch.add('authorization code', code);
    return code as string;
  };

  const redeem = async (
    client: TestClient,
    code: string,
    verifier: string | undefined,
  ): Promise<FormResponse> => {
    const params = {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      ...(client.secret === undefined ? { client_id: client.id } : {}),
    };
    const response = await postForm(`${as.url}/token`, params, { client });
    watch.addTokens('redeemed', response);
    return response;
  };

  const authorizationPairs = (
    extra: Readonly<Record<string, string | undefined>>,
  ): Array<[string, string]> => {
    // `extra` may remove a parameter by mapping it to undefined.
    const params: Record<string, string | undefined> = {
      response_type: 'code',
      client_id: confidential.id,
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 'st-pkce',
      code_challenge: VALID_CHALLENGE,
      code_challenge_method: 'S256',
      ...extra,
    };
    return Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  };

  it.each(challengeCases)('refuses at authorization: $name ($source)', async (row) => {
    // A fresh browser: the request is refused before any login is considered.
    const response = await new Browser().get(
      rawAuthorizeUrl(as, [...authorizationPairs(row.params), ...(row.append ?? [])]),
    );
    if (row.expected === 'error page') expectErrorPage(response);
    else
      expectErrorRedirect(response, as, {
        redirectUri: REDIRECT_URI,
        error: 'invalid_request',
        state: 'st-pkce',
      });
  });

  it('accepts an S256 challenge of 43 base64url characters (positive control)', async () => {
    expectLoginPage(await new Browser().get(rawAuthorizeUrl(as, authorizationPairs({}))));
  });

  it.each([
    { name: 'plain', source: 'RFC 9126 §2.1, RFC 9700 §2.1.1', params: { code_challenge_method: 'plain' } },
    {
      name: 'no code_challenge',
      source: 'RFC 9126 §2.1, RFC 9700 §2.1.1',
      params: { code_challenge: undefined },
    },
    {
      name: 'no code_challenge_method',
      source: 'RFC 9126 §2.1, RFC 7636 §4.3',
      params: { code_challenge_method: undefined },
    },
  ])('refuses a pushed request with $name: 400 invalid_request JSON ($source)', async ({ params }) => {
    const pushed = await postForm(`${as.url}/par`, Object.fromEntries(authorizationPairs(params)), {
      client: confidential,
    });
    expectOAuthError(pushed, 400, 'invalid_request');
    // Positive control: the same request with S256 is stored.
    const control = await postForm(`${as.url}/par`, Object.fromEntries(authorizationPairs({})), {
      client: confidential,
    });
    expect(control.status).toBe(201);
  });

  it.each(verifierCases)('refuses at the token endpoint: $name ($source)', async (row) => {
    const client = clientOf(row.client);
    const own = row.pkce();
    const other = pair(randomVerifier());
    const code = await codeFor(client, own);
    await codeFor(client, other);
    const mark = as.audit.length;
    const refused = await redeem(client, code, row.verifier(own, other));
    expectOAuthError(refused, 400, 'invalid_grant');
    expect(refused.body).not.toHaveProperty('access_token');
    expect(as.audit.slice(mark)).toContainEqual(
      expect.objectContaining({ action: 'token.refuse', reason: 'ERR_OAUTH_INVALID_GRANT' }),
    );
    if (row.retry) {
      // Positive control: only the verifier was wrong.
      const control = await redeem(client, code, own.verifier);
      expect(control.status).toBe(200);
    }
  });

  it('refuses a code_verifier sent twice (RFC 6749 §3.1)', async () => {
    const own = pair(randomVerifier());
    const code = await codeFor(confidential, own);
    const body = new URLSearchParams([
      ['grant_type', 'authorization_code'],
      ['code', code],
      ['redirect_uri', REDIRECT_URI],
      ['code_verifier', own.verifier],
      ['code_verifier', randomVerifier()],
    ]);
    const response = await fetch(`${as.url}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basic(confidential.id, confidential.secret as string),
      },
      body,
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
    expect((await redeem(confidential, code, own.verifier)).status).toBe(200);
  });

  it.each(acceptedVerifiers)('accepts a verifier of $name ($source)', async ({ verifier }) => {
    for (const client of [confidential, publicClient]) {
      const code = await codeFor(client, pair(verifier));
      const response = await redeem(client, code, verifier);
      expect(response.status).toBe(200);
      expect(response.body['token_type']).toBe('Bearer');
    }
  });
});
