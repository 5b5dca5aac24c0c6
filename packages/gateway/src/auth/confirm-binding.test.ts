import { X509Certificate, createHash } from 'node:crypto';
import { GatehouseError } from '@gatehouse/core';
import type { DpopVerifier } from '@gatehouse/guard';
import { describe, expect, it, vi } from 'vitest';
import { confirmBinding, toPeerCertificate, type Binding } from './confirm-binding.js';
import type { Credentials } from './extract-credentials.js';
import type { AuthRequest } from './types.js';

// Two self-signed client certificates (fixtures: only their DER thumbprints matter here).
const CERT_A = new X509Certificate(`-----BEGIN CERTIFICATE-----
MIIBfDCCASOgAwIBAgIUDXrC89T3BrTQ1HmekCorrtlAZu8wCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIY2xpZW50LWEwIBcNMjYxMTI5MTUxODUxWhgPMjEyNjExMDUx
NTE4NTFaMBMxETAPBgNVBAMMCGNsaWVudC1hMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAESmWUR8v+SkMzHGY8ENCJGaFBlGsmNcHMMHUyxSCxNskMJOUggBUwm/uL
7ghJSsuRejSTvDoJbTAMAacCylkdxKNTMFEwHQYDVR0OBBYEFMXtaxxHD0x6vG3f
IbPNBIBn07W4MB8GA1UdIwQYMBaAFMXtaxxHD0x6vG3fIbPNBIBn07W4MA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgaBiLz89gzkdaQ2pBQv2F0NXF
v45WVPvVifczhgw+14ECIEN3EBUweSV9bX1Wjvru/kqNSLRgUAPfkelxxK/+TJDQ
-----END CERTIFICATE-----`);
const CERT_B = new X509Certificate(`-----BEGIN CERTIFICATE-----
MIIBfjCCASOgAwIBAgIUB9MbLY5q+c+VDbkNxQwN+ef9OyswCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIY2xpZW50LWIwIBcNMjYxMTI5MTUxODUxWhgPMjEyNjExMDUx
NTE4NTFaMBMxETAPBgNVBAMMCGNsaWVudC1iMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEMl68hRtGbrPv1mgH5f2JLc9QZIsGVkBWYNhFDwH4rcx2SLtklpckUy2c
BECifzNrLcAXeERzRPi23tlzumOOpqNTMFEwHQYDVR0OBBYEFNFGbiP5Vy715Xte
9Ay0+VG5AcV5MB8GA1UdIwQYMBaAFNFGbiP5Vy715Xte9Ay0+VG5AcV5MA8GA1Ud
EwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAOpTM9AgO1suYCZ+IdLpRygr
p1L8KUepDXHIhhPpQWVrAiEA7S/CDYehT44vLvMwb5bTGHMYIUuvgvEhCfi94mAV
c74=
-----END CERTIFICATE-----`);
const thumbprint = (cert: X509Certificate): string =>
  createHash('sha256').update(cert.raw).digest('base64url');

const request = (overrides: Partial<AuthRequest> = {}): AuthRequest => ({
  authorization: undefined,
  dpop: undefined,
  method: 'GET',
  htu: 'https://gateway.example/a',
  ...overrides,
});
const bearer: Credentials = { scheme: 'Bearer', token: 'tok' };
const dpopScheme: Credentials = { scheme: 'DPoP', token: 'tok' };
const unbound: Binding = { jkt: undefined, x5t: undefined };

function fakeDpop(jkt: string): DpopVerifier {
  return { algorithms: ['ES256'], verify: () => Promise.resolve({ jkt, jti: 'j', iat: 0 }) };
}

describe('confirmBinding: certificate-bound tokens (RFC 8705 §3)', () => {
  const bound: Binding = { jkt: undefined, x5t: thumbprint(CERT_A) };

  it('accepts the certificate the token is bound to', async () => {
    await expect(
      confirmBinding(bound, bearer, request({ peerCertificate: CERT_A }), fakeDpop('k')),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['no client certificate', undefined, 'ERR_MTLS_CERTIFICATE_REQUIRED'],
    ['another certificate', CERT_B, 'ERR_MTLS_CERTIFICATE_MISMATCH'],
  ] as const)('refuses %s', async (_name, peerCertificate, code) => {
    await expect(
      confirmBinding(
        bound,
        bearer,
        request(peerCertificate === undefined ? {} : { peerCertificate }),
        fakeDpop('k'),
      ),
    ).rejects.toMatchObject({ code });
  });

  it('an unbound token passes with or without a certificate', async () => {
    await expect(confirmBinding(unbound, bearer, request(), fakeDpop('k'))).resolves.toBeUndefined();
    await expect(
      confirmBinding(unbound, bearer, request({ peerCertificate: CERT_B }), fakeDpop('k')),
    ).resolves.toBeUndefined();
  });

  it('computes the thumbprint once per certificate object', () => {
    expect(toPeerCertificate(CERT_A).thumbprint).toBe(thumbprint(CERT_A));
    expect(toPeerCertificate(CERT_A)).toBe(toPeerCertificate(CERT_A));
  });
});

describe('confirmBinding: DPoP-bound tokens (RFC 9449 §7.1)', () => {
  const bound: Binding = { jkt: 'key-1', x5t: undefined };

  it('checks the proof for the request method, htu and token, and its key against cnf.jkt', async () => {
    const verify = vi.fn(() => Promise.resolve({ jkt: 'key-1', jti: 'j', iat: 0 }));
    await confirmBinding(bound, dpopScheme, request({ dpop: 'proof', method: 'POST' }), {
      algorithms: ['ES256'],
      verify,
    });
    expect(verify).toHaveBeenCalledWith('proof', { method: 'POST', url: 'https://gateway.example/a' }, 'tok');
  });

  it.each([
    ['the Bearer scheme', bearer, 'proof', 'key-1', 'ERR_DPOP_BINDING_REQUIRED'],
    ['no proof', dpopScheme, undefined, 'key-1', 'ERR_DPOP_PROOF_MISSING'],
    ['an empty proof', dpopScheme, '', 'key-1', 'ERR_DPOP_PROOF_MISSING'],
    ['two proofs', dpopScheme, 'a, b', 'key-1', 'ERR_DPOP_MULTIPLE_PROOFS'],
    ['a proof by another key', dpopScheme, 'proof', 'key-2', 'ERR_DPOP_JKT_MISMATCH'],
    ['a proof by a key of another length', dpopScheme, 'proof', 'key-10', 'ERR_DPOP_JKT_MISMATCH'],
  ] as const)('refuses %s', async (_name, credentials, proof, proofKey, code) => {
    await expect(
      confirmBinding(
        bound,
        credentials,
        request(proof === undefined ? {} : { dpop: proof }),
        fakeDpop(proofKey),
      ),
    ).rejects.toMatchObject({ code });
  });

  it('refuses the DPoP scheme with an unbound token', async () => {
    await expect(
      confirmBinding(unbound, dpopScheme, request({ dpop: 'p' }), fakeDpop('k')),
    ).rejects.toMatchObject({
      code: 'ERR_DPOP_TOKEN_NOT_BOUND',
    });
  });

  it("passes the proof verifier's refusal through", async () => {
    const dpop: DpopVerifier = {
      algorithms: ['ES256'],
      verify: () => Promise.reject(new GatehouseError('ERR_DPOP_REPLAYED')),
    };
    await expect(confirmBinding(bound, dpopScheme, request({ dpop: 'p' }), dpop)).rejects.toMatchObject({
      code: 'ERR_DPOP_REPLAYED',
    });
  });
});
