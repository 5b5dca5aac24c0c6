import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createAdminApp, createAdminOperationsFor } from '../../src/index.js';
import type { AttackCase } from '../helpers/attack-table.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { opensslSelfSigned, publicJwkOf } from '../helpers/mtls-pki.js';

/**
 * Registering mutual-TLS clients through the admin API (RFC 7591 names, RFC 8705 §2.1.2, §2.2,
 * §3.4): a tls_client_auth client names exactly one certificate name, valid for its kind; a
 * self-signed client registers its keys; no secret is ever made for either.
 */

const TOKEN = randomBytes(32).toString('base64url');
const base = { client_name: 'Partner', grant_types: ['client_credentials'] };

const refusals: (AttackCase & { readonly body: Record<string, unknown>; readonly says: RegExp })[] = [
  {
    name: 'tls_client_auth without a certificate name',
    source: 'RFC 8705 §2.1.2',
    body: { ...base, token_endpoint_auth_method: 'tls_client_auth' },
    says: /exactly one of subject DN, SAN DNS, URI, IP or email/,
  },
  {
    name: 'two certificate names',
    source: 'RFC 8705 §2.1.2 (exactly one)',
    body: {
      ...base,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'partner.example',
      tls_client_auth_subject_dn: 'CN=partner',
    },
    says: /at most one tls_client_auth_\* certificate name/,
  },
  {
    name: 'a certificate name on a client_secret_basic client',
    source: 'RFC 8705 §2.1.2',
    body: { ...base, tls_client_auth_san_dns: 'partner.example' },
    says: /only for tls_client_auth/,
  },
  {
    name: 'a subject DN that is not RFC 4514',
    source: 'RFC 4514 §3',
    body: { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: 'partner' },
    says: /tls_client_auth_subject_dn: not an RFC 4514/,
  },
  {
    name: 'a hex-encoded DN value',
    source: 'RFC 4514 §2.4',
    body: {
      ...base,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=#0403616263',
    },
    says: /tls_client_auth_subject_dn: not an RFC 4514/,
  },
  {
    name: 'a SAN IP that is no address',
    source: 'RFC 8705 §2.1.2',
    body: { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_ip: '192.0.2.300' },
    says: /tls_client_auth_san_ip: not an IP address/,
  },
  {
    name: 'a SAN URI that is not absolute',
    source: 'RFC 8705 §2.1.2',
    body: { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_uri: 'partners/p1' },
    says: /tls_client_auth_san_uri: not an absolute URI/,
  },
  {
    name: 'a SAN e-mail without @',
    source: 'RFC 8705 §2.1.2',
    body: { ...base, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_san_email: 'billing' },
    says: /tls_client_auth_san_email: not an email address/,
  },
  {
    name: 'a SAN DNS with a space',
    source: 'RFC 1123 §2.1',
    body: {
      ...base,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_san_dns: 'partner example',
    },
    says: /tls_client_auth_san_dns: not a DNS name/,
  },
  {
    name: 'self_signed_tls_client_auth without keys',
    source: 'RFC 8705 §2.2',
    body: { ...base, token_endpoint_auth_method: 'self_signed_tls_client_auth' },
    says: /jwks: required for self_signed_tls_client_auth/,
  },
  {
    name: 'tls_client_certificate_bound_access_tokens not a boolean',
    source: 'RFC 8705 §3.4',
    body: { ...base, tls_client_certificate_bound_access_tokens: 'yes' },
    says: /tls_client_certificate_bound_access_tokens/,
  },
];

describeEachStore('registering mutual-TLS clients (admin API)', (stores) => {
  let as: TestAuthServer;
  let admin: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    as = await startAuthServer({ stores });
    admin = createAdminApp({
      logger: as.deps.logger,
      deps: as.deps,
      operations: createAdminOperationsFor(as.deps, as.server.services.keys),
      adminToken: TOKEN,
    });
    await admin.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(admin.server.address() as AddressInfo).port}/admin/clients`;
  });
  afterAll(async () => {
    await admin.close();
    await as.close();
  });

  const create = async (body: Record<string, unknown>) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('tls_client_auth: the one name under its RFC 7591 member, no secret', async () => {
    const created = await create({
      ...base,
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=billing,O=Partner GmbH,C=DE',
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: 'CN=billing,O=Partner GmbH,C=DE',
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(created.body).not.toHaveProperty('client_secret');
    expect(created.body).not.toHaveProperty('tls_client_auth_san_dns');
    const stored = await as.server.services.clients.get(created.body['client_id'] as string);
    expect(stored?.tlsClientAuth).toEqual({ kind: 'subject_dn', value: 'CN=billing,O=Partner GmbH,C=DE' });
    expect(stored?.secretHash).toBeNull();
  });

  it('self_signed_tls_client_auth: the keys, no secret', async () => {
    const jwk = publicJwkOf(opensslSelfSigned({ subject: '/CN=self' }).certPem, 'k1');
    const created = await create({
      ...base,
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [jwk] },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      token_endpoint_auth_method: 'self_signed_tls_client_auth',
      jwks: { keys: [jwk] },
      tls_client_certificate_bound_access_tokens: false,
    });
    expect(created.body).not.toHaveProperty('client_secret');
  });

  it.each(refusals)('refuses $name ($source): 400 naming the problem', async ({ body, says }) => {
    const response = await create(body);
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toMatch(says);
  });
});
