import { GatehouseError, isGatehouseError, sharedReplayStore } from '@gatehouse/core';
import { createDpopVerifier, type DpopVerifier } from '@gatehouse/guard';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ENDPOINT_PATHS, type AuthServerServices } from '../services.js';
import { createDpopNonces, type DpopNonces } from './dpop-nonce.js';
import { CLIENT_SIGNING_ALGORITHMS } from '../clients/client-algorithms.js';

/** RFC 9449 §8: `use_dpop_nonce`, answered with a fresh nonce in the `DPoP-Nonce` header. */
export class UseDpopNonceError extends GatehouseError<'ERR_OAUTH_USE_DPOP_NONCE'> {
  constructor(detail: string) {
    super('ERR_OAUTH_USE_DPOP_NONCE', { detail });
  }
}

interface EndpointDpop {
  readonly verifier: DpopVerifier;
  readonly nonces: DpopNonces;
}

const perServer = new WeakMap<AuthServerServices, EndpointDpop>();

function dpopOf(services: AuthServerServices): EndpointDpop {
  let entry = perServer.get(services);
  if (entry === undefined) {
    const { deps } = services;
    entry = {
      verifier: createDpopVerifier({
        algorithms: CLIENT_SIGNING_ALGORITHMS,
        // Seen jtis are shared by every instance (RFC 9449 §11.1).
        replayStore: sharedReplayStore(deps.state, 'dpop:', deps.now),
        maxAgeSec: deps.config.dpop.maxAgeSec,
        now: deps.now,
      }),
      nonces: createDpopNonces(deps),
    };
    perServer.set(services, entry);
  }
  return entry;
}

/** A fresh server nonce (RFC 9449 §8), valid on every instance for `dpop.nonceTtlSec`. */
export function issueDpopNonce(services: AuthServerServices): string {
  return dpopOf(services).nonces.issue();
}

function proofClaim(proof: string, name: string): unknown {
  const payload = proof.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return claims[name];
}

/**
 * Checks the `DPoP` header of a request to an authorization-server endpoint (token, PAR) against
 * `htu` and POST (RFC 9449 §4.3, §5), with replay protection shared by every instance and, when
 * `dpop.requireNonce`, a server nonce (§8). Returns the proof key's thumbprint (`jkt`), or
 * undefined when the request has no proof. Guard's ERR_DPOP_* become `invalid_dpop_proof` (400).
 */
export async function verifyDpopAtEndpoint(
  services: AuthServerServices,
  request: FastifyRequest,
  htu: string,
): Promise<string | undefined> {
  const header = request.headers.dpop;
  if (header === undefined) return undefined;
  // RFC 9449 §4.3 step 1: exactly one DPoP header (Node joins repeated ones with a comma).
  if (typeof header !== 'string' || header.includes(',')) {
    throw new GatehouseError('ERR_OAUTH_INVALID_DPOP_PROOF', { detail: 'ERR_DPOP_MULTIPLE_PROOFS' });
  }
  const dpop = dpopOf(services);
  let jkt: string;
  try {
    ({ jkt } = await dpop.verifier.verify(header, { method: request.method, url: htu }));
  } catch (err) {
    throw new GatehouseError('ERR_OAUTH_INVALID_DPOP_PROOF', {
      detail: isGatehouseError(err) ? err.code : 'proof refused',
      cause: err,
    });
  }
  if (services.deps.config.dpop.requireNonce && !dpop.nonces.check(proofClaim(header, 'nonce'))) {
    throw new UseDpopNonceError('missing or stale DPoP nonce');
  }
  return jkt;
}

/**
 * RFC 9449 §8.2: every answer of the token and PAR endpoints to a request that carried a DPoP
 * proof carries a fresh `DPoP-Nonce` (errors included, `use_dpop_nonce` first of all), so a
 * client always holds a nonce for its next proof.
 */
export function registerDpopNonces(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  if (!services.deps.config.dpop.requireNonce) return;
  const paths = new Set([`${prefix}${ENDPOINT_PATHS.token}`, `${prefix}${ENDPOINT_PATHS.par}`]);
  app.addHook('onSend', async (request, reply) => {
    if (request.headers.dpop === undefined) return;
    const path = request.url.split('?', 1)[0] ?? '';
    if (paths.has(path) && !reply.hasHeader('dpop-nonce')) {
      void reply.header('dpop-nonce', issueDpopNonce(services));
    }
  });
}
