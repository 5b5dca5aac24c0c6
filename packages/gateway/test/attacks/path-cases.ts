import type { ErrorCode } from '@gatehouse/core';

/**
 * The path-bypass table (issue 4, Hardening: one canonical path), shared by HTTP/1.1
 * (path-bypass.test.ts) and HTTP/2 (tls/gateway-http2.test.ts): the same targets get the same answers
 * whatever the protocol. The gateway under test routes only `/public` (minus a deny rule on
 * `/public/internal`) and `/api/accounts` (rewritten to `/accounts`), with `limits.maxUrlLength`
 * PATH_MAX_URL; its upstream serves everything, `/admin` included.
 */

export const PATH_MAX_URL = 2048;

export type PathVerdict = 'invalid' | 'malformed' | 'notFound' | 'denied' | 'tooLong';

export interface PathCase {
  readonly name: string;
  readonly target: string;
  readonly method: string;
  readonly verdict: PathVerdict;
}

/**
 * What each verdict answers: `invalid`, refused by the canonicalizer (RFC 3986 §6.2.2: only unreserved
 * escapes are decoded); `malformed`, bytes no request line may carry (RFC 9112 §3.2: no CTL, no SP, ASCII),
 * refused by Node's parser before the gateway sees a request — over HTTP/2 by nghttp2, with a stream
 * reset; `notFound`, canonical but outside every route once the dot-segments are resolved (RFC 3986 §5.2.4);
 * `denied`, routed then refused by the deny rule on the canonical path; `tooLong`, RFC 9112 §3: 414.
 */
export const PATH_REFUSALS: Readonly<Record<PathVerdict, { status: number; code: ErrorCode }>> = {
  invalid: { status: 400, code: 'ERR_GATEWAY_PATH_INVALID' },
  malformed: { status: 400, code: 'ERR_GATEWAY_BAD_REQUEST' },
  notFound: { status: 404, code: 'ERR_GATEWAY_ROUTE_NOT_FOUND' },
  denied: { status: 403, code: 'ERR_GATEWAY_REQUEST_DENIED' },
  tooLong: { status: 414, code: 'ERR_GATEWAY_URL_TOO_LONG' },
};

const pathCase =
  (verdict: PathVerdict) =>
  (name: string, target: string, method = 'GET'): PathCase => ({ name, target, method, verdict });
const invalid = pathCase('invalid');
const malformed = pathCase('malformed');
const notFound = pathCase('notFound');
const denied = pathCase('denied');
const tooLong = pathCase('tooLong');

export const PATH_CASES: readonly PathCase[] = [
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
  tooLong('very long URL', `/public/${'a'.repeat(PATH_MAX_URL)}`),
  tooLong('very long query string', `/public/x?q=${'a'.repeat(PATH_MAX_URL)}`),
];
