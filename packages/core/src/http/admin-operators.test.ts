import { createHash, X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDevCa } from '../pki/create-dev-ca.js';
import { buildAdminOperators, isAdminOperatorEntry, normalizeAdminOperator } from './admin-operators.js';
import { checkAdminCredential, MIN_ADMIN_TOKEN_LENGTH } from './admin-token.js';

const URI = 'spiffe://ops.example/alice';
let alice: X509Certificate;
let bob: X509Certificate;
let bobThumbprint: string;

beforeAll(async () => {
  const ca = await createDevCa();
  alice = new X509Certificate((await ca.issue({ commonName: 'alice', uri: [URI], usage: 'client' })).certPem);
  bob = new X509Certificate(
    (await ca.issue({ commonName: 'bob', uri: ['spiffe://ops.example/b,"o\\b'], usage: 'client' })).certPem,
  );
  bobThumbprint = `sha256:${createHash('sha256').update(bob.raw).digest('base64url')}`;
});

/** A TLS socket as the listener sees it: verified (`authorized`) or not, with or without a certificate. */
const socket = (certificate: X509Certificate | undefined, authorized = true) => ({
  authorized,
  getPeerX509Certificate: () => certificate,
});

describe('normalizeAdminOperator', () => {
  it.each([
    ['sha256:' + 'A'.repeat(43), 'sha256:' + 'A'.repeat(43)],
    // The hex form of OpenSSL and Node's fingerprint256, any case: the same bytes as base64url.
    [`sha256:${Array.from({ length: 32 }, () => 'ff').join(':')}`, `sha256:${'_'.repeat(42)}8`],
    [
      `sha256:${Array.from({ length: 32 }, () => 'Ab').join(':')}`,
      `sha256:${Buffer.alloc(32, 0xab).toString('base64url')}`,
    ],
    [URI, URI],
    ['urn:example:operator:7', 'urn:example:operator:7'],
  ])('%s → %s', (entry, normalized) => {
    expect(normalizeAdminOperator(entry)).toBe(normalized);
    expect(isAdminOperatorEntry(entry)).toBe(true);
  });

  it.each([
    'sha256:' + 'A'.repeat(42), // too short
    'sha256:' + 'A'.repeat(44),
    `sha256:${Array.from({ length: 31 }, () => 'ff').join(':')}`,
    'sha256:',
    'alice', // not a URI
    '',
    'spiffe://ops.example/a b', // whitespace
    'spiffe://ops.example/a,b', // would be split in Node's SAN text
    'spiffe://ops.example/"a"',
  ])('refuses %s', (entry) => {
    expect(normalizeAdminOperator(entry)).toBeUndefined();
    expect(isAdminOperatorEntry(entry)).toBe(false);
    expect(() => buildAdminOperators([entry])).toThrow(TypeError);
  });
});

describe('buildAdminOperators().identify', () => {
  it('names the operator by SAN URI or by thumbprint, only for a certificate the TLS layer verified', () => {
    const operators = buildAdminOperators([URI, bobThumbprint]);
    expect(operators.size).toBe(2);
    expect(operators.identify(socket(alice))).toBe(URI);
    expect(operators.identify(socket(bob))).toBe(bobThumbprint);
    expect(operators.identify(socket(alice, false))).toBeUndefined();
    expect(operators.identify(socket(undefined))).toBeUndefined();
    expect(operators.identify({ authorized: true })).toBeUndefined(); // not a TLS socket
    expect(operators.identify(undefined)).toBeUndefined();
    expect(operators.identify('socket')).toBeUndefined();
  });

  it('a certificate that matches no entry, and an empty list, name nobody', () => {
    expect(buildAdminOperators([URI]).identify(socket(bob))).toBeUndefined();
    expect(buildAdminOperators([]).identify(socket(alice))).toBeUndefined();
    expect(buildAdminOperators([]).size).toBe(0);
  });

  it("a SAN URI spelled as another certificate's thumbprint entry does not pass for that certificate", async () => {
    const ca = await createDevCa();
    const forged = new X509Certificate(
      (await ca.issue({ commonName: 'mallory', uri: [bobThumbprint], usage: 'client' })).certPem,
    );
    expect(new X509Certificate(forged.toString()).subjectAltName).toContain(bobThumbprint);
    expect(buildAdminOperators([bobThumbprint]).identify(socket(forged))).toBeUndefined();
    expect(buildAdminOperators([bobThumbprint]).identify(socket(bob))).toBe(bobThumbprint);
  });

  it('the hex thumbprint names the same certificate', () => {
    const hex = `sha256:${bob.fingerprint256}`;
    expect(buildAdminOperators([hex]).identify(socket(bob))).toBe(bobThumbprint);
  });
});

describe('checkAdminCredential with operators', () => {
  const token = 't'.repeat(MIN_ADMIN_TOKEN_LENGTH);

  it("an operator's certificate is enough, with or without a token configured", () => {
    const operators = buildAdminOperators([URI]);
    expect(checkAdminCredential(undefined, undefined, { operators, socket: socket(alice) })).toEqual({
      ok: true,
      operator: URI,
    });
    expect(checkAdminCredential('Bearer wrong', token, { operators, socket: socket(alice) })).toEqual({
      ok: true,
      operator: URI,
    });
  });

  it('operators only: anyone else gets 403, never the disabled answer', () => {
    const operators = buildAdminOperators([URI]);
    const check = checkAdminCredential(`Bearer ${token}`, undefined, { operators, socket: socket(bob) });
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.response.status).toBe(403);
      expect(check.reason).toBe('no_operator_certificate');
    }
  });

  it('with a token too, anyone else needs the token', () => {
    const operators = buildAdminOperators([URI]);
    expect(checkAdminCredential(`Bearer ${token}`, token, { operators, socket: socket(bob) })).toEqual({
      ok: true,
    });
    const check = checkAdminCredential(undefined, token, { operators, socket: socket(bob) });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.response.status).toBe(401);
  });

  it('an empty operator list and no token: disabled (503)', () => {
    const check = checkAdminCredential(undefined, undefined, {
      operators: buildAdminOperators([]),
      socket: socket(alice),
    });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.response.status).toBe(503);
  });
});
