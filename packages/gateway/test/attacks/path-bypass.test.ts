import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import {
  expectForwarded,
  expectRefused,
  itEachCase,
  HOST,
  type AttackCase,
  type AttackTarget,
} from './attack-table.js';

/**
 * Path bypasses: one canonical path (issue 4, Hardening). The upstream serves everything, `/admin` and
 * `/public/internal` included; the gateway routes only `/public` (minus a deny rule on `/public/internal`) and
 * `/api/accounts` (rewritten to `/accounts`). Any target that two parsers could read differently is refused; one
 * that resolves outside a route is not found; nothing of either kind reaches the upstream.
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
let target: AttackTarget;

const MAX_URL = 2048;

beforeAll(async () => {
  upstream = await startRecordingUpstream();
  gw = await startGateway({
    limits: { maxUrlLength: MAX_URL },
    upstreams: { app: { targets: [upstream.url] } },
    routes: [
      {
        id: 'public',
        match: { pathPrefix: '/public' },
        upstream: 'app',
        auth: 'none',
        deny: { path: ['^/public/internal(/|$)'] },
      },
      {
        id: 'accounts',
        match: { pathPrefix: '/api/accounts' },
        upstream: 'app',
        auth: 'none',
        stripPrefix: '/api/accounts',
        addPrefix: '/accounts',
      },
    ],
  });
  target = { port: gw.port, upstream };
});

afterAll(async () => {
  await gw.close();
  await upstream.close();
});

const get = (requestTarget: string, method = 'GET'): string =>
  `${method} ${requestTarget} HTTP/1.1\r\n${HOST}\r\n`;

/** Refused by the canonicalizer (RFC 3986 §6.2.2: only unreserved escapes are decoded). */
const invalid = (name: string, requestTarget: string, method = 'GET'): AttackCase => ({
  name,
  request: get(requestTarget, method),
  refused: { status: 400, code: 'ERR_GATEWAY_PATH_INVALID' },
});
/** Refused by Node's strict parser before the gateway sees a request (RFC 9112 §3.2: no CTL, no SP, ASCII). */
const malformed = (name: string, requestTarget: string): AttackCase => ({
  name,
  request: get(requestTarget),
  refused: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST', closes: true },
});
/** Canonical, but outside every route once the dot-segments are resolved (RFC 3986 §5.2.4). */
const notFound = (name: string, requestTarget: string): AttackCase => ({
  name,
  request: get(requestTarget),
  refused: { status: 404, code: 'ERR_GATEWAY_ROUTE_NOT_FOUND' },
});
/** Canonical and routed, then refused by the deny rule on the canonical path. */
const denied = (name: string, requestTarget: string): AttackCase => ({
  name,
  request: get(requestTarget),
  refused: { status: 403, code: 'ERR_GATEWAY_REQUEST_DENIED' },
});

const cases: AttackCase[] = [
  // Encoded separators: a segment boundary the gateway does not see, but an upstream may.
  invalid('encoded slash %2f', '/public/..%2fadmin'),
  invalid('encoded slash %2F (upper case)', '/public/..%2Fadmin'),
  invalid('encoded slashes climbing out of a stripped prefix', '/api/accounts/..%2f..%2fadmin'),
  invalid('encoded slash inside the first segment', '/public%2f..%2fadmin'),
  invalid('encoded backslash %5c', '/public/..%5cadmin'),
  invalid('raw backslash (IIS, Windows back ends read it as /)', '/public/..\\admin'),
  // NUL and path parameters: truncation in C back ends, `;` stripped by Tomcat/Spring.
  invalid('encoded NUL %00', '/public/admin%00.json'),
  invalid('encoded NUL in the query', '/public/x?file=admin%00.json'),
  malformed('raw NUL', '/public/\x00/admin'),
  invalid('semicolon path parameter ..;/', '/public/..;/admin'),
  invalid('semicolon after the route prefix', '/public;x=1/../admin'),
  invalid('encoded semicolon %3b', '/public/..%3b/admin'),
  // Double encoding: `%25` decodes to `%`, which a second decoder turns into `/` or `.`.
  invalid('double-encoded dots %252e', '/public/%252e%252e/admin'),
  invalid('double-encoded slash %252f', '/public/..%252fadmin'),
  invalid('encoded percent alone %25', '/public/100%25'),
  // Overlong and invalid UTF-8 (RFC 3629 §10): `%c0%ae` is a `.`, `%c0%af` and `%e0%80%af` a `/`.
  invalid('overlong UTF-8 dots %c0%ae', '/public/%c0%ae%c0%ae/admin'),
  invalid('overlong UTF-8 slash %c0%af', '/public/..%c0%afadmin'),
  invalid('three-byte overlong slash %e0%80%af', '/public/..%e0%80%afadmin'),
  invalid('overlong UTF-8 backslash %c1%9c', '/public/..%c1%9cadmin'),
  invalid('lone continuation byte %80', '/public/%80'),
  invalid('UTF-16 surrogate %ed%a0%80', '/public/%ed%a0%80'),
  invalid('malformed escape %zz', '/public/%zz'),
  invalid('truncated escape %2', '/public/%2'),
  malformed('raw non-ASCII bytes', '/public/\xc3\xa9'),
  // Dot-segments: resolved, never climbing above the root, then matched again.
  notFound('dot-segments out of the route /public/../admin', '/public/../admin'),
  notFound('encoded dot-segments %2e%2e', '/public/%2e%2e/admin'),
  notFound('mixed .%2e', '/public/.%2e/admin'),
  notFound('dot-segments out of a stripped prefix', '/api/accounts/../../admin'),
  notFound('dot-segment to the parent of a stripped prefix', '/api/accounts/..'),
  notFound('duplicate slashes before admin', '//admin'),
  invalid('dot-segments above the root', '/public/../../admin'),
  invalid('encoded dot-segments above the root', '/%2e%2e/admin'),
  // Case: paths are case-sensitive (RFC 3986 §6.2.2.1), deny rules are not.
  notFound('upper-case route prefix', '/PUBLIC/x'),
  notFound('mixed-case stripped prefix', '/Api/Accounts/7'),
  denied('the denied path itself', '/public/internal'),
  denied('deny rule dodged by case', '/public/INTERNAL/keys'),
  denied('deny rule dodged by an escaped unreserved letter', '/public/%69nternal/keys'),
  denied('deny rule dodged by ./', '/public/./internal'),
  denied('deny rule dodged by //', '/public//internal'),
  denied('deny rule dodged by x/../', '/public/x/../internal'),
  denied('deny rule dodged by %2e/', '/public/%2e/internal'),
  // Other target forms (RFC 9112 §3.2.2, §3.2.4) and fragments (§3.2: never sent).
  invalid('absolute-form naming the gateway', 'http://gateway.test/public/x'),
  invalid('absolute-form naming another host', 'http://127.0.0.1:1/admin'),
  invalid('asterisk-form', '*', 'OPTIONS'),
  invalid('fragment hiding dot-segments', '/public/x#/../../admin'),
  invalid('fragment in the query', '/public/x?a=1#frag'),
  // RFC 9112 §3: a server answers 414 to a target longer than it is willing to parse.
  {
    name: 'very long URL',
    request: get(`/public/${'a'.repeat(MAX_URL)}`),
    refused: { status: 414, code: 'ERR_GATEWAY_URL_TOO_LONG' },
  },
  {
    name: 'very long query string',
    request: get(`/public/x?q=${'a'.repeat(MAX_URL)}`),
    refused: { status: 414, code: 'ERR_GATEWAY_URL_TOO_LONG' },
  },
];

describe('path bypasses are refused and never reach the upstream', () => {
  itEachCase(cases, (attack) => expectRefused(target, attack));
});

describe('the string matched is the string forwarded', () => {
  it.each([
    { name: 'a plain path', sent: '/public/ok', forwarded: '/public/ok' },
    {
      name: 'escaped unreserved characters decoded',
      sent: '/public/%7Euser/%41',
      forwarded: '/public/~user/A',
    },
    { name: 'other escapes kept, in upper case', sent: '/public/a%3fb%2a', forwarded: '/public/a%3Fb%2A' },
    {
      name: 'dot-segments and duplicate slashes resolved',
      sent: '/public//a/./b/../c',
      forwarded: '/public/a/c',
    },
    {
      name: 'the prefix rewritten after resolution',
      sent: '/api/accounts/x/../7?y=1',
      forwarded: '/accounts/7?y=1',
    },
  ])('$name', async ({ sent, forwarded }) => {
    const { received } = await expectForwarded(target, get(sent));
    expect(received.url).toBe(forwarded);
  });
});
