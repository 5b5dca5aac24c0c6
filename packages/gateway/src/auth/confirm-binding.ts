import { timingSafeEqual, type X509Certificate } from 'node:crypto';
import { GatehouseError } from '@gatehouse/core';
import {
  certificateThumbprint,
  confirmCertificateBinding,
  type DpopVerifier,
  type PeerCertificate,
} from '@gatehouse/guard';
import type { Credentials } from './extract-credentials.js';
import type { AuthRequest } from './types.js';

/** The confirmation (RFC 7800 §3.1) of a token, from its claims or its introspection answer. */
export interface Binding {
  /** RFC 9449 §6 DPoP key thumbprint. */
  readonly jkt: string | undefined;
  /** RFC 8705 §3.1 certificate thumbprint. */
  readonly x5t: string | undefined;
}

const peers = new WeakMap<X509Certificate, PeerCertificate>();

/** Guard's view of a TLS client certificate; only the thumbprint matters for binding (RFC 8705 §3). */
export function toPeerCertificate(certificate: X509Certificate): PeerCertificate {
  let peer = peers.get(certificate);
  if (peer === undefined) {
    peer = {
      raw: certificate.raw,
      thumbprint: certificateThumbprint(certificate.raw),
      // Chain verification is the TLS server's job; a binding check needs no trust decision.
      authorized: false,
      commonName: undefined,
      uris: [],
      dnsNames: [],
      ipAddresses: [],
    };
    peers.set(certificate, peer);
  }
  return peer;
}

function sameThumbprint(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

const fail = (
  code:
    | 'ERR_DPOP_BINDING_REQUIRED'
    | 'ERR_DPOP_PROOF_MISSING'
    | 'ERR_DPOP_MULTIPLE_PROOFS'
    | 'ERR_DPOP_JKT_MISMATCH'
    | 'ERR_DPOP_TOKEN_NOT_BOUND',
): never => {
  throw new GatehouseError(code);
};

/**
 * Enforces sender constraints: a DPoP-bound token only with the DPoP scheme and a valid proof of
 * its key for this request (RFC 9449 §7.1, §4.3 with `ath`), the DPoP scheme only with a bound
 * token, and a certificate-bound token only on a TLS connection with that certificate (RFC 8705 §3).
 * Throws GatehouseError (ERR_DPOP_*, ERR_MTLS_*).
 */
export async function confirmBinding(
  binding: Binding,
  credentials: Credentials,
  request: AuthRequest,
  dpop: DpopVerifier,
): Promise<void> {
  if (binding.jkt !== undefined) {
    // RFC 9449 §7.1: a DPoP-bound token is never good as a bearer token.
    if (credentials.scheme !== 'DPoP') fail('ERR_DPOP_BINDING_REQUIRED');
    const proof = request.dpop ?? '';
    if (proof === '') fail('ERR_DPOP_PROOF_MISSING');
    // RFC 9449 §4.3 step 1: exactly one DPoP field (a proof has no comma; joined fields do).
    if (proof.includes(',')) fail('ERR_DPOP_MULTIPLE_PROOFS');
    const verified = await dpop.verify(
      proof,
      { method: request.method, url: request.htu },
      credentials.token,
    );
    if (!sameThumbprint(verified.jkt, binding.jkt)) fail('ERR_DPOP_JKT_MISMATCH');
  } else if (credentials.scheme === 'DPoP') {
    fail('ERR_DPOP_TOKEN_NOT_BOUND');
  }
  if (binding.x5t !== undefined) {
    confirmCertificateBinding(
      { cnf: { 'x5t#S256': binding.x5t } },
      request.peerCertificate === undefined ? undefined : toPeerCertificate(request.peerCertificate),
    );
  }
}
