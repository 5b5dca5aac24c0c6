import { createHash, webcrypto } from 'node:crypto';
// tsyringe (loaded by @peculiar/x509) needs the Reflect metadata API before x509 is imported.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
// @peculiar/x509 signs with WebCrypto; Node's implementation is the standard one.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const HOUR_MS = 3_600_000;

/** A certificate and its private key, in memory only (PEM for node:tls, DER for thumbprints). */
export interface Credential {
  readonly certPem: string;
  readonly keyPem: string;
  readonly der: Buffer;
  /** RFC 8705 §3.1 `x5t#S256`, computed here independently of guard. */
  readonly thumbprint: string;
}

interface Authority extends Credential {
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

export interface TestPki {
  /** The CA the TLS servers trust for client certificates (and that issued the server cert). */
  readonly ca: Credential;
  /** Server certificate: SAN IP 127.0.0.1 and DNS localhost. */
  readonly server: Credential;
  /** SAN URI spiffe://gatehouse/gateway, CN gateway. */
  readonly gateway: Credential;
  /** SAN URI spiffe://gatehouse/other, CN other. */
  readonly other: Credential;
  /** Subject CN legacy-client and no SAN at all. */
  readonly cnOnly: Credential;
  /** SAN URI spiffe://gatehouse/gateway, but issued by a CA the servers do not trust. */
  readonly untrusted: Credential;
  /** Self-signed, SAN URI spiffe://gatehouse/gateway (RFC 8705 §2.2 self_signed_tls_client_auth). */
  readonly selfSigned: Credential;
  /** Several SAN entries, one URI with a comma (Node prints it quoted). */
  readonly multiSan: Credential;
  /** DNS names crafted to look like a URI entry in Node's `subjectaltname` text. */
  readonly sanInjection: Credential;
  /** A subject with two CN attributes (Node reports them as an array). */
  readonly twoCns: Credential;
}

export const GATEWAY_URI = 'spiffe://gatehouse/gateway';
export const OTHER_URI = 'spiffe://gatehouse/other';
export const COMMA_URI = 'spiffe://gatehouse/a,b';
export const LEGACY_CN = 'legacy-client';
export const INJECTED_DNS = [`evil.example, URI:${GATEWAY_URI}`, `evil.example URI:${GATEWAY_URI}`] as const;

function thumbprintOf(der: Buffer): string {
  return createHash('sha256').update(der).digest('base64url');
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function toCredential(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<Credential> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const der = Buffer.from(cert.rawData);
  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    der,
    thumbprint: thumbprintOf(der),
  };
}

function validity(): { notBefore: Date; notAfter: Date } {
  // TLS checks validity against the real clock (the frozen token clock does not reach OpenSSL).
  const now = Date.now();
  return { notBefore: new Date(now - HOUR_MS), notAfter: new Date(now + 24 * HOUR_MS) };
}

async function createAuthority(name: string): Promise<Authority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${name}`,
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { ...(await toCredential(cert, keys)), cert, keys };
}

interface LeafSpec {
  readonly cn: string;
  /** Full subject DN when it is more than one CN (RFC 4514 string). */
  readonly subject?: string;
  readonly sans?: x509.JsonGeneralNames;
  readonly usage: 'server' | 'client';
}

function leafExtensions(spec: LeafSpec): x509.Extension[] {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [spec.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
  ];
  if (spec.sans !== undefined) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans));
  return extensions;
}

async function issue(issuer: Authority, spec: LeafSpec): Promise<Credential> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    subject: spec.subject ?? `CN=${spec.cn}`,
    issuer: issuer.cert.subject,
    publicKey: keys.publicKey,
    signingKey: issuer.keys.privateKey,
    signingAlgorithm: KEY_ALGORITHM,
    ...validity(),
    extensions: [
      ...leafExtensions(spec),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey),
    ],
  });
  return toCredential(cert, keys);
}

async function selfSign(spec: LeafSpec): Promise<Credential> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${spec.cn}`,
    keys,
    signingAlgorithm: KEY_ALGORITHM,
    ...validity(),
    extensions: leafExtensions(spec),
  });
  return toCredential(cert, keys);
}

async function createTestPki(): Promise<TestPki> {
  const ca = await createAuthority('Gatehouse Test CA');
  const rogue = await createAuthority('Untrusted Test CA');
  const client = (cn: string, sans?: x509.JsonGeneralNames): LeafSpec =>
    sans === undefined ? { cn, usage: 'client' } : { cn, sans, usage: 'client' };
  return {
    ca,
    server: await issue(ca, {
      cn: 'localhost',
      usage: 'server',
      sans: [
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ],
    }),
    gateway: await issue(ca, client('gateway', [{ type: 'url', value: GATEWAY_URI }])),
    other: await issue(ca, client('other', [{ type: 'url', value: OTHER_URI }])),
    cnOnly: await issue(ca, client(LEGACY_CN)),
    untrusted: await issue(rogue, client('gateway', [{ type: 'url', value: GATEWAY_URI }])),
    selfSigned: await selfSign(client('gateway', [{ type: 'url', value: GATEWAY_URI }])),
    multiSan: await issue(
      ca,
      client('multi', [
        { type: 'dns', value: 'client.gatehouse.test' },
        { type: 'ip', value: '10.0.0.7' },
        { type: 'url', value: COMMA_URI },
        { type: 'url', value: GATEWAY_URI },
      ]),
    ),
    sanInjection: await issue(
      ca,
      client(
        'injection',
        INJECTED_DNS.map((value) => ({ type: 'dns' as const, value })),
      ),
    ),
    twoCns: await issue(ca, { cn: 'first', subject: 'CN=first, CN=second', usage: 'client' }),
  };
}

let shared: Promise<TestPki> | undefined;

/** The test PKI, generated once per test file (key generation is the slow part). */
export function getTestPki(): Promise<TestPki> {
  shared ??= createTestPki();
  return shared;
}
