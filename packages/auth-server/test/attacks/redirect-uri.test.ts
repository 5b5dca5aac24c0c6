import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  auditSince,
  expectErrorPage,
  expectErrorRedirect,
  expectLoginPage,
  rawAuthorizeUrl,
  type AttackCase,
} from '../helpers/attack-table.js';
import { Browser, pkce, type PageResponse } from '../helpers/browser-flow.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { newClient, type TestClient } from '../helpers/oauth-client.js';

/**
 * Redirect URI attacks (RFC 9700 §4.1, RFC 6749 §3.1.2, RFC 8252 §7-8): the authorization endpoint
 * compares the requested URI with the registered ones character for character (the only exception
 * being the port of a PUBLIC native client's loopback IP literal, RFC 8252 §7.3), and until the
 * client and its URI are known good every error is a 400 HTML page without `Location` (no open
 * redirector, RFC 9700 §4.11, RFC 6749 §4.1.2.1).
 */

const CB = 'https://client.example/cb';
const WITH_QUERY = 'https://client.example/q?a=1&b=2';
const NATIVE_V4 = 'http://127.0.0.1/cb';
const NATIVE_V6 = 'http://[::1]/cb';
const NATIVE_SCHEME = 'com.example.app:/cb';
const CONFIDENTIAL_LOOPBACK = 'http://127.0.0.1:8765/cb';
const LOCALHOST = 'http://localhost:8765/cb';
const CHALLENGE = pkce().challenge;

type ClientName = 'web' | 'native' | 'nativeV6' | 'confidentialLoopback' | 'localhostNative' | 'machine';

interface RedirectCase extends AttackCase {
  readonly client: ClientName;
  /** The redirect_uri sent (absent: left out). */
  readonly redirectUri: string | undefined;
  /** Other parameters changed or added (undefined removes one). */
  readonly extra?: Readonly<Record<string, string | undefined>>;
  /** Query pairs appended verbatim (parameter pollution). */
  readonly append?: ReadonlyArray<readonly [string, string]>;
  /** Sent as a form POST instead of a GET (OIDC Core §3.1.2.1 allows both). */
  readonly post?: boolean;
  /** Text of the attacker's URI that must not be echoed on the page. */
  readonly notReflected?: readonly string[];
}

// Expected refusal of every row: 400 HTML error page, no Location, audited, nothing reflected.
const refused: RedirectCase[] = [
  // Path, case and normalisation tricks on https://client.example/cb.
  { name: 'path appended (/cb/x)', source: 'RFC 9700 §4.1.3', client: 'web', redirectUri: `${CB}/x` },
  {
    name: 'dot segment that normalises back (/cb/../cb)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/cb/../cb',
  },
  {
    name: 'dot segment escaping the path (/cb/../evil)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/cb/../evil',
  },
  { name: 'single-dot segment (/cb/.)', source: 'RFC 9700 §4.1.3', client: 'web', redirectUri: `${CB}/.` },
  { name: 'trailing slash', source: 'RFC 9700 §4.1.3', client: 'web', redirectUri: `${CB}/` },
  {
    name: 'doubled slash in the path',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example//cb',
  },
  {
    name: 'path case changed',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/CB',
  },
  {
    name: 'host case changed',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://CLIENT.EXAMPLE/cb',
  },
  {
    name: 'scheme case changed',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'HTTPS://client.example/cb',
  },
  {
    name: 'trailing dot on the host',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example./cb',
  },
  {
    name: 'explicit default port',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example:443/cb',
  },
  {
    name: 'http downgrade',
    source: 'RFC 9700 §4.1.3, RFC 6749 §3.1.2.1',
    client: 'web',
    redirectUri: 'http://client.example/cb',
  },
  // Userinfo: the registered host moved into the user part, or an attacker user part added.
  {
    name: 'attacker userinfo before the registered host',
    source: 'RFC 9700 §4.1.3, RFC 3986 §3.2.1',
    client: 'web',
    redirectUri: 'https://attacker@client.example/cb',
    notReflected: ['attacker'],
  },
  {
    name: 'registered host as userinfo of the attacker host',
    source: 'RFC 9700 §4.1.3, RFC 3986 §3.2.1',
    client: 'web',
    redirectUri: 'https://client.example@attacker.example/cb',
    notReflected: ['attacker.example'],
  },
  {
    name: 'backslash before an @ (parser differential)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example\\@attacker.example/cb',
    notReflected: ['attacker.example'],
  },
  // Encoded characters: compared as sent, never decoded into a match.
  {
    name: 'encoded slash and dot segments (%2F..)',
    source: 'RFC 9700 §4.1.3, RFC 3986 §2.1',
    client: 'web',
    redirectUri: 'https://client.example/cb%2F..%2F..%2Fevil',
  },
  {
    name: 'encoded dot segment (%2e%2e)',
    source: 'RFC 9700 §4.1.3, RFC 3986 §2.1',
    client: 'web',
    redirectUri: 'https://client.example/cb/%2e%2e/evil',
  },
  {
    name: 'encoded NUL (%00)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/cb%00',
  },
  {
    name: 'raw NUL character',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/cb\u0000',
  },
  {
    name: 'encoded fragment delimiter (%23)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/cb%23.attacker.example',
    notReflected: ['attacker.example'],
  },
  {
    name: 'encoded unreserved character (%63 for c)',
    source: 'RFC 9700 §4.1.3, RFC 3986 §6.2.2.2',
    client: 'web',
    redirectUri: 'https://client.example/%63b',
  },
  {
    name: 'encoded dot in the host',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client%2Eexample/cb',
  },
  {
    name: 'CRLF header injection',
    source: 'RFC 9700 §4.1.3, CWE-113',
    client: 'web',
    redirectUri: `${CB}\r\nLocation: https://attacker.example`,
    notReflected: ['attacker.example'],
  },
  {
    name: 'leading space',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: ` ${CB}`,
  },
  // Query and fragment.
  {
    name: 'query appended to a URI registered without one (?x=1)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: `${CB}?x=1`,
  },
  {
    name: 'empty query appended (?)',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: `${CB}?`,
  },
  {
    name: 'registered query in another order',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/q?b=2&a=1',
  },
  {
    name: 'registered query with a parameter added',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: `${WITH_QUERY}&next=https://attacker.example`,
    notReflected: ['attacker.example'],
  },
  {
    name: 'registered query value changed',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://client.example/q?a=1&b=3',
  },
  {
    name: 'fragment added',
    source: 'RFC 6749 §3.1.2',
    client: 'web',
    redirectUri: `${CB}#x`,
  },
  {
    name: 'empty fragment added',
    source: 'RFC 6749 §3.1.2',
    client: 'web',
    redirectUri: `${CB}#`,
  },
  // Parameter pollution: the server must not pick one of two values.
  {
    name: 'two redirect_uri parameters, registered one first',
    source: 'RFC 6749 §3.1, RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: CB,
    append: [['redirect_uri', 'https://attacker.example/cb']],
    notReflected: ['attacker.example'],
  },
  {
    name: 'two redirect_uri parameters, attacker one first',
    source: 'RFC 6749 §3.1, RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    append: [['redirect_uri', CB]],
    notReflected: ['attacker.example'],
  },
  {
    name: 'two client_id parameters',
    source: 'RFC 6749 §3.1',
    client: 'web',
    redirectUri: CB,
    append: [['client_id', 'another-client']],
  },
  // Other URI forms.
  {
    name: 'scheme-relative URI',
    source: 'RFC 6749 §3.1.2 (absolute URI)',
    client: 'web',
    redirectUri: '//client.example/cb',
  },
  { name: 'relative URI', source: 'RFC 6749 §3.1.2 (absolute URI)', client: 'web', redirectUri: '/cb' },
  {
    name: 'javascript: URI',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'javascript://client.example/cb%0aalert(1)',
    notReflected: ['alert(1)'],
  },
  {
    name: 'data: URI',
    source: 'RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'data:text/html,<script>alert(1)</script>',
    notReflected: ['<script>'],
  },
  // IDN and Unicode look-alikes: a URL parser maps some of them onto the registered host.
  {
    name: 'fullwidth letter that a URL parser maps to ASCII',
    source: 'RFC 9700 §4.1.3, UTS #46',
    client: 'web',
    redirectUri: 'https://\uff43lient.example/cb',
  },
  {
    name: 'ideographic full stop as the host separator',
    source: 'RFC 9700 §4.1.3, UTS #46',
    client: 'web',
    redirectUri: 'https://client\u3002example/cb',
  },
  {
    name: 'Cyrillic look-alike host (homograph)',
    source: 'RFC 9700 §4.1.3, RFC 3490 §10',
    client: 'web',
    redirectUri: 'https://cli\u0435nt.example/cb',
  },
  {
    name: 'punycode of the Cyrillic look-alike',
    source: 'RFC 9700 §4.1.3, RFC 3490 §10',
    client: 'web',
    redirectUri: 'https://xn--clint-1we.example/cb',
  },
  // Loopback: port variance for public native clients on IP literals only (RFC 8252 §7.3).
  {
    name: 'confidential client on another loopback port',
    source: 'RFC 8252 §7.3 (public native clients only)',
    client: 'confidentialLoopback',
    redirectUri: 'http://127.0.0.1:9999/cb',
  },
  {
    name: 'confidential client with the port left out',
    source: 'RFC 8252 §7.3 (public native clients only)',
    client: 'confidentialLoopback',
    redirectUri: 'http://127.0.0.1/cb',
  },
  {
    name: 'confidential client: localhost for its 127.0.0.1 registration',
    source: 'RFC 8252 §8.3',
    client: 'confidentialLoopback',
    redirectUri: 'http://localhost:8765/cb',
  },
  {
    name: 'public client: localhost for a 127.0.0.1 registration',
    source: 'RFC 8252 §8.3',
    client: 'native',
    redirectUri: 'http://localhost:5000/cb',
  },
  {
    name: 'public client: [::1] for a 127.0.0.1 registration',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://[::1]:5000/cb',
  },
  {
    name: 'public client: another loopback address (127.0.0.2)',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://127.0.0.2:5000/cb',
  },
  {
    name: 'public client: short IPv4 form (127.1)',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://127.1:5000/cb',
  },
  {
    name: 'public client: decimal IPv4 form',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://2130706433:5000/cb',
  },
  {
    name: 'public client: hexadecimal IPv4 form',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://0x7f000001:5000/cb',
  },
  {
    name: 'public client: DNS name that starts with the loopback address',
    source: 'RFC 8252 §8.3',
    client: 'native',
    redirectUri: 'http://127.0.0.1.nip.io:5000/cb',
  },
  {
    name: 'public client: loopback port followed by userinfo@attacker',
    source: 'RFC 8252 §7.3, RFC 3986 §3.2.1',
    client: 'native',
    redirectUri: 'http://127.0.0.1:5000@attacker.example/cb',
    notReflected: ['attacker.example'],
  },
  {
    name: 'public client: https on the loopback registration',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'https://127.0.0.1:5000/cb',
  },
  {
    name: 'public client: loopback path appended',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://127.0.0.1:5000/cb/x',
  },
  {
    name: 'public client: 127.0.0.1 for a [::1] registration',
    source: 'RFC 8252 §7.3',
    client: 'nativeV6',
    redirectUri: 'http://127.0.0.1:5000/cb',
  },
  {
    name: 'public client: localhost for a [::1] registration',
    source: 'RFC 8252 §8.3',
    client: 'nativeV6',
    redirectUri: 'http://localhost:5000/cb',
  },
  {
    name: 'public client: another spelling of the IPv6 loopback ([0:0:0:0:0:0:0:1])',
    source: 'RFC 8252 §7.3',
    client: 'nativeV6',
    redirectUri: 'http://[0:0:0:0:0:0:0:1]:5000/cb',
  },
  {
    name: 'public client: IPv4-mapped IPv6 loopback ([::ffff:127.0.0.1])',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://[::ffff:127.0.0.1]:5000/cb',
  },
  {
    name: 'public client: localhost registration on another port',
    source: 'RFC 8252 §8.3 (no port variance for localhost)',
    client: 'localhostNative',
    redirectUri: 'http://localhost:9999/cb',
  },
  {
    name: 'public client: private-use scheme, path appended',
    source: 'RFC 8252 §7.1',
    client: 'native',
    redirectUri: `${NATIVE_SCHEME}/x`,
  },
  {
    name: 'public client: another private-use scheme',
    source: 'RFC 8252 §7.1',
    client: 'native',
    redirectUri: 'com.example.evil:/cb',
  },
  // Error paths that must not redirect (RFC 6749 §4.1.2.1: invalid client or redirect URI).
  {
    name: 'missing redirect_uri',
    source: 'OIDC Core §3.1.2.1, RFC 6749 §4.1.2.1',
    client: 'web',
    redirectUri: undefined,
  },
  {
    name: 'unknown client_id with a well-formed redirect_uri and an invalid response_type',
    source: 'RFC 6749 §4.1.2.1, RFC 9700 §4.11.1',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    extra: { client_id: 'no-such-client', response_type: 'token' },
    notReflected: ['attacker.example'],
  },
  {
    name: 'missing client_id',
    source: 'RFC 6749 §4.1.2.1',
    client: 'web',
    redirectUri: CB,
    extra: { client_id: undefined },
  },
  {
    name: 'unregistered redirect_uri with an invalid response_type',
    source: 'RFC 6749 §4.1.2.1, RFC 9700 §4.11.1',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    extra: { response_type: 'token' },
    notReflected: ['attacker.example'],
  },
  {
    name: 'unregistered redirect_uri with prompt=none (login_required must not travel)',
    source: 'RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    extra: { prompt: 'none' },
    notReflected: ['attacker.example'],
  },
  {
    name: 'unregistered redirect_uri with an unknown scope',
    source: 'RFC 6749 §4.1.2.1, RFC 9700 §4.11.1',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    extra: { scope: 'admin' },
    notReflected: ['attacker.example'],
  },
  {
    name: 'unregistered redirect_uri with an unknown request_uri',
    source: 'RFC 9126 §4, RFC 6749 §4.1.2.1',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    extra: { request_uri: 'urn:ietf:params:oauth:request_uri:forged' },
    notReflected: ['attacker.example'],
  },
  {
    name: 'unregistered redirect_uri in a POST authorization request',
    source: 'OIDC Core §3.1.2.1, RFC 9700 §4.1.3',
    client: 'web',
    redirectUri: 'https://attacker.example/cb',
    post: true,
    notReflected: ['attacker.example'],
  },
  {
    name: 'a client without the code grant, any redirect_uri',
    source: 'RFC 6749 §4.1.2.1',
    client: 'machine',
    redirectUri: CB,
  },
];

// Positive controls: the same requests with the registered URI are accepted (login form shown).
const accepted: Array<AttackCase & { readonly client: ClientName; readonly redirectUri: string }> = [
  { name: 'the exact registered URI', source: 'RFC 9700 §4.1.3', client: 'web', redirectUri: CB },
  {
    name: 'the exact registered URI with its query',
    source: 'RFC 6749 §3.1.2',
    client: 'web',
    redirectUri: WITH_QUERY,
  },
  {
    name: 'public native client on another loopback port',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: 'http://127.0.0.1:51004/cb',
  },
  {
    name: 'public native client without a port',
    source: 'RFC 8252 §7.3',
    client: 'native',
    redirectUri: NATIVE_V4,
  },
  {
    name: 'public native client, private-use scheme',
    source: 'RFC 8252 §7.1',
    client: 'native',
    redirectUri: NATIVE_SCHEME,
  },
  {
    name: 'public native client on a port of its [::1] registration',
    source: 'RFC 8252 §7.3',
    client: 'nativeV6',
    redirectUri: 'http://[::1]:40000/cb',
  },
  {
    name: 'confidential client, its exact loopback URI',
    source: 'RFC 8252 §7.3',
    client: 'confidentialLoopback',
    redirectUri: CONFIDENTIAL_LOOPBACK,
  },
  {
    name: 'public native client, its exact localhost URI',
    source: 'RFC 8252 §8.3',
    client: 'localhostNative',
    redirectUri: LOCALHOST,
  },
];

describeEachStore('attacks: redirect URI', (stores) => {
  let as: TestAuthServer;
  const clients = {} as Record<ClientName, TestClient>;

  beforeAll(async () => {
    as = await startAuthServer({ stores });
    const code = ['authorization_code'] as const;
    const scopes = ['openid'];
    clients.web = await newClient(as, { grantTypes: [...code], redirectUris: [CB, WITH_QUERY], scopes });
    clients.native = await newClient(as, {
      authMethod: 'none',
      grantTypes: [...code],
      redirectUris: [NATIVE_V4, NATIVE_SCHEME],
      scopes,
    });
    clients.nativeV6 = await newClient(as, {
      authMethod: 'none',
      grantTypes: [...code],
      redirectUris: [NATIVE_V6],
      scopes,
    });
    clients.confidentialLoopback = await newClient(as, {
      grantTypes: [...code],
      redirectUris: [CONFIDENTIAL_LOOPBACK],
      scopes,
    });
    clients.localhostNative = await newClient(as, {
      authMethod: 'none',
      grantTypes: [...code],
      redirectUris: [LOCALHOST],
      scopes,
    });
    clients.machine = await newClient(as, { grantTypes: ['client_credentials'], scopes });
  });
  afterAll(async () => {
    await as.close();
  });

  const pairs = (
    client: TestClient,
    redirectUri: string | undefined,
    extra: Readonly<Record<string, string | undefined>> = {},
  ): Array<[string, string]> => {
    const params: Record<string, string | undefined> = {
      response_type: 'code',
      client_id: client.id,
      redirect_uri: redirectUri,
      scope: 'openid',
      state: 'st-redirect',
      code_challenge: CHALLENGE,
      code_challenge_method: 'S256',
      ...extra,
    };
    return Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  };

  const send = async (row: RedirectCase): Promise<PageResponse> => {
    const query = [...pairs(clients[row.client], row.redirectUri, row.extra), ...(row.append ?? [])];
    const browser = new Browser();
    if (row.post === true) return browser.post(`${as.url}/authorize`, Object.fromEntries(query));
    return browser.get(rawAuthorizeUrl(as, query));
  };

  it.each(refused)('refuses $name ($source): 400 page, no redirect', async (row) => {
    const mark = as.audit.length;
    const response = await send(row);
    expectErrorPage(response, row.notReflected ?? []);
    expect(auditSince(as, mark)).toContainEqual(
      expect.objectContaining({ action: 'authorization.refuse', outcome: 'failure' }),
    );
  });

  it.each(accepted)('accepts $name ($source)', async ({ client, redirectUri }) => {
    expectLoginPage(await new Browser().get(rawAuthorizeUrl(as, pairs(clients[client], redirectUri))));
  });

  it('sends a later error to the verified URI only, with state and iss (RFC 6749 §4.1.2.1, RFC 9207)', async () => {
    const response = await new Browser().get(
      rawAuthorizeUrl(as, pairs(clients.web, WITH_QUERY, { response_type: 'token' })),
    );
    expectErrorRedirect(response, as, {
      redirectUri: 'https://client.example/q',
      error: 'unsupported_response_type',
      state: 'st-redirect',
    });
    // The registered query survives unchanged in front of the response parameters.
    expect(response.location).toMatch(/^https:\/\/client\.example\/q\?a=1&b=2&error=/);
  });
});
