import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCa, type CertificateAndKey, type DevCa } from '@gatehouse/core';

/**
 * The certificates of the mTLS suites, on disk as an operator would have them: the auth server's
 * own certificate (from a server CA), the partner CA it trusts for client certificates, and a
 * rogue CA nobody trusts. Core's development CA issues what it can; OpenSSL (a real component)
 * issues what it cannot: e-mail SANs, multi-attribute subjects, self-signed certificates.
 */
export interface TestPki {
  /** Folder of the files below (the `baseDir` of the auth server). */
  readonly dir: string;
  readonly serverCa: DevCa;
  readonly partnerCa: DevCa;
  readonly rogueCa: DevCa;
  /** File names in `dir`: the server's certificate and key, and the partner CA (listen.tls.caFile). */
  readonly files: { readonly cert: string; readonly key: string; readonly partnerCa: string };
  /** Writes more files into `dir`. */
  write(name: string, content: string): string;
  close(): void;
}

export async function createTestPki(): Promise<TestPki> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mtls-'));
  const [serverCa, partnerCa, rogueCa] = await Promise.all([
    createDevCa({ commonName: 'Test Server CA' }),
    createDevCa({ commonName: 'Partner CA' }),
    createDevCa({ commonName: 'Rogue CA' }),
  ]);
  const server = await serverCa.issue({
    commonName: 'auth.test',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    usage: 'server',
  });
  const write = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content, { mode: 0o600 });
    return name;
  };
  return {
    dir,
    serverCa,
    partnerCa,
    rogueCa,
    files: {
      cert: write('server.pem', server.certPem),
      key: write('server-key.pem', server.keyPem),
      partnerCa: write('partner-ca.pem', partnerCa.certPem),
    },
    write,
    close: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OpensslCertificateOptions {
  /** OpenSSL `-subj` form, most significant first: `/C=DE/O=Partner GmbH/CN=billing`. */
  readonly subject: string;
  /** `subjectAltName` value, e.g. `email:billing@partner.example,DNS:partner.example`. */
  readonly san?: string;
  /** `extendedKeyUsage` (default clientAuth). */
  readonly eku?: string;
  readonly days?: number;
  /** Multi-valued RDNs: `+` joins attributes in `subject`. */
  readonly multivalue?: boolean;
  /** Self-signed only: reuse this PEM private key (a renewed certificate of the same key). */
  readonly keyPem?: string;
}

function opensslConfig(options: OpensslCertificateOptions): string {
  return [
    '[req]',
    'distinguished_name = dn',
    '[dn]',
    '[ext]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature',
    `extendedKeyUsage = ${options.eku ?? 'clientAuth'}`,
    ...(options.san === undefined ? [] : [`subjectAltName = ${options.san}`]),
    '',
  ].join('\n');
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-openssl-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A leaf certificate signed by `issuer` with OpenSSL. */
export function opensslIssue(
  issuer: CertificateAndKey,
  options: OpensslCertificateOptions,
): CertificateAndKey {
  return withTempDir((dir) => {
    const file = (name: string): string => join(dir, name);
    writeFileSync(file('ext.cnf'), opensslConfig(options));
    writeFileSync(file('ca.pem'), issuer.certPem);
    writeFileSync(file('ca.key'), issuer.keyPem, { mode: 0o600 });
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        ...P256,
        '-keyout',
        file('leaf.key'),
        '-out',
        file('leaf.csr'),
        '-subj',
        options.subject,
        ...(options.multivalue === true ? ['-multivalue-rdn'] : []),
        '-config',
        file('ext.cnf'),
      ],
      { stdio: 'pipe' },
    );
    execFileSync(
      'openssl',
      [
        'x509',
        '-req',
        '-in',
        file('leaf.csr'),
        '-CA',
        file('ca.pem'),
        '-CAkey',
        file('ca.key'),
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        String(options.days ?? 1),
        '-sha256',
        '-extfile',
        file('ext.cnf'),
        '-extensions',
        'ext',
        '-out',
        file('leaf.pem'),
      ],
      { stdio: 'pipe' },
    );
    return {
      certPem: readFileSync(file('leaf.pem'), 'utf8'),
      keyPem: readFileSync(file('leaf.key'), 'utf8'),
    };
  });
}

/** A self-signed client certificate (RFC 8705 §2.2) made with OpenSSL. */
export function opensslSelfSigned(options: OpensslCertificateOptions): CertificateAndKey {
  return withTempDir((dir) => {
    const file = (name: string): string => join(dir, name);
    writeFileSync(file('ext.cnf'), opensslConfig(options));
    if (options.keyPem !== undefined) writeFileSync(file('self.key'), options.keyPem, { mode: 0o600 });
    const key =
      options.keyPem === undefined ? [...P256, '-keyout', file('self.key')] : ['-key', file('self.key')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...key,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-out',
        file('self.pem'),
        '-days',
        String(options.days ?? 1),
        '-subj',
        options.subject,
        '-config',
        file('ext.cnf'),
        '-extensions',
        'ext',
      ],
      { stdio: 'pipe' },
    );
    return {
      certPem: readFileSync(file('self.pem'), 'utf8'),
      keyPem: readFileSync(file('self.key'), 'utf8'),
    };
  });
}

/** The public JWK of a certificate's key, as a self-signed client registers it (RFC 8705 §2.2). */
export function publicJwkOf(certPem: string, kid: string): Record<string, unknown> {
  return { ...createPublicKey(certPem).export({ format: 'jwk' }), kid, use: 'sig' };
}

/** The DER bytes of a PEM certificate, decoded here without Node's X.509 parser. */
export function derOf(pem: string): Buffer {
  const body = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1];
  if (body === undefined) throw new Error('not a PEM certificate');
  return Buffer.from(body.replace(/\s+/g, ''), 'base64');
}

/** RFC 8705 §3.1 `x5t#S256`, computed independently of the server: base64url(SHA-256(DER)). */
export function x5tS256(pem: string): string {
  return createHash('sha256').update(derOf(pem)).digest('base64url');
}

/**
 * The auth server's listener in the mTLS suites: HTTPS with the test server certificate, partner
 * certificates of the partner CA optional at the handshake (the token endpoint decides).
 */
export function partnerTlsListen(pki: TestPki) {
  return {
    tls: {
      certFile: pki.files.cert,
      keyFile: pki.files.key,
      caFile: pki.files.partnerCa,
      clientAuth: 'optional' as const,
    },
  };
}
