import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';
import { getPeerCertificate } from '../../mtls/peer-certificate.js';
import type { GuardRequest } from '../create-guard.js';

/**
 * A guard request from a Node request. `headersDistinct` is used because Node keeps only the
 * first of duplicate `Authorization` fields in `headers`, which would hide an ambiguous request.
 */
export function fromIncomingMessage(req: IncomingMessage, requestId?: string): GuardRequest {
  const distinct = req.headersDistinct;
  return {
    method: req.method ?? 'GET',
    path: req.url ?? '/',
    host: req.headers.host,
    secure: req.socket instanceof TLSSocket,
    authorization: distinct['authorization'] ?? [],
    dpop: distinct['dpop'] ?? [],
    peerCertificate: getPeerCertificate(req.socket),
    sourceIp: req.socket.remoteAddress,
    requestId:
      requestId ??
      (typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined),
  };
}
