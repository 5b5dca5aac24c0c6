import { X509Certificate, constants, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { TlsListenerConfig } from './tls-listener-schema.js';

/**
 * Options for `https.createServer`, `http2.createSecureServer`, `tls.createServer` and Fastify's
 * `https`, and for `server.setSecureContext()` on reload.
 */
export interface TlsServerOptions extends SecureContextOptions {
  requestCert: boolean;
  rejectUnauthorized: boolean;
  /** Server option (ignored by `setSecureContext`): how long a client may take to finish its handshake. */
  handshakeTimeout?: number;
}

/**
 * Node's default lets a client that never finishes its handshake hold a connection for 120 s
 * (slowloris below HTTP); 10 s is plenty for any real client.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * TLS 1.2 suites (BCP 195): ECDHE only, for forward secrecy and no static RSA key transport
 * (RFC 9325 §4.1), with AEAD only: the AES-GCM suites RFC 9325 §4.2 recommends, plus
 * ChaCha20-Poly1305 (RFC 7905). ECDSA first (RFC 9325 §4.2.1). No CBC suite (Lucky13, RFC 7457 §2.8).
 */
export const TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** TLS 1.3 suites (RFC 8446 §9.1): every one is AEAD with an ephemeral key exchange. */
export const TLS13_CIPHER_SUITES: readonly string[] = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

/** The raw contents of a listener's files, as read at one moment. */
export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function invalid(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { detail, cause });
}

function readTlsFile(field: string, file: string, baseDir: string): Buffer {
  const path = resolve(baseDir, file);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw invalid(
      `tls.${field}: cannot read ${path} (${String((cause as NodeJS.ErrnoException).code)})`,
      cause,
    );
  }
}

/** Reads the certificate, key and CA files of `config` (paths resolved against `baseDir`). */
export function readTlsFiles(config: TlsListenerConfig, baseDir: string): TlsFiles {
  return {
    cert: readTlsFile('certFile', config.certFile, baseDir),
    key: readTlsFile('keyFile', config.keyFile, baseDir),
    ca: config.caFile === undefined ? undefined : readTlsFile('caFile', config.caFile, baseDir),
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, refusing one that does not parse or holds none. */
function checkCaBundle(ca: Buffer, file: string): void {
  const blocks = ca.toString('latin1').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw invalid(`tls.caFile: ${file} holds no PEM certificate`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (cause) {
      throw invalid(`tls.caFile: ${file} holds a certificate that does not parse`, cause);
    }
  }
}

/**
 * Checks each file on its own (OpenSSL silently accepts an empty certificate or a CA file
 * without certificates), then both together: `createSecureContext` refuses a key that does not
 * belong to the certificate. Messages name files and OpenSSL's reason, never key material.
 */
function checkTlsFiles(files: TlsFiles, options: TlsServerOptions, config: TlsListenerConfig): void {
  try {
    new X509Certificate(files.cert);
  } catch (cause) {
    throw invalid(`tls.certFile: ${config.certFile} is not a PEM certificate`, cause);
  }
  try {
    createPrivateKey(files.key);
  } catch (cause) {
    throw invalid(`tls.keyFile: ${config.keyFile} is not an unencrypted PEM private key`, cause);
  }
  if (files.ca !== undefined) checkCaBundle(files.ca, String(config.caFile));
  try {
    createSecureContext(options);
  } catch (cause) {
    // OpenSSL's reason (`key values mismatch`): it names no key material.
    const reason = (cause as Error).message;
    throw invalid(`tls: ${config.certFile} and ${config.keyFile} cannot be used together (${reason})`, cause);
  }
}

/** The server options of `config` from files already read, checked. */
export function buildTlsServerOptions(files: TlsFiles, config: TlsListenerConfig): TlsServerOptions {
  const requestCert = config.clientAuth !== 'none';
  const options: TlsServerOptions = {
    cert: files.cert,
    key: files.key,
    // Client certificates are checked against the configured CA only. Without caFile an empty
    // list, not Node's default of the public roots: then no client certificate is ever
    // `authorized` (self-signed partners, RFC 8705 §2.2, are matched by key instead).
    ...(files.ca !== undefined ? { ca: files.ca } : requestCert ? { ca: [] } : {}),
    requestCert,
    rejectUnauthorized: config.clientAuth === 'require',
    // RFC 9325 §3.1.1: TLS 1.2 at least; OpenSSL negotiates 1.3 whenever the client offers it.
    minVersion: config.minVersion,
    ciphers: [...TLS13_CIPHER_SUITES, ...TLS12_CIPHERS].join(':'),
    // RFC 9325 §4.2.1: the server's order (strongest first) decides, not the client's.
    honorCipherOrder: true,
    // No renegotiation at all: RFC 9325 §3.5 allows it only with RFC 5746, client-initiated
    // renegotiation is a CPU DoS, TLS 1.3 has none and HTTP/2 forbids it (RFC 9113 §9.2.1).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  };
  checkTlsFiles(files, options, config);
  return options;
}

/**
 * Reads a listener's files (relative paths against `baseDir`) and returns checked server options
 * with the secure defaults. Throws `ERR_CONFIG_INVALID` for a file that cannot be read or parsed
 * and for a key that does not match the certificate.
 */
export function loadTlsServerOptions(config: TlsListenerConfig, baseDir: string): TlsServerOptions {
  return buildTlsServerOptions(readTlsFiles(config, baseDir), config);
}
