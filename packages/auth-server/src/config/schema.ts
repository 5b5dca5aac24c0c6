import { forwardedCertificateHeaderSchema, tlsListenerSchema } from '@gatehouse/core';
import { z } from 'zod';
import { parseCidr } from '../mtls/trusted-proxies.js';

const seconds = (description: string, fallback: number) =>
  z.number().int().positive().default(fallback).describe(description);

const listen = (port: number) =>
  z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1').describe('Address to bind'),
      port: z.number().int().min(0).max(65535).default(port).describe('TCP port (0: any free port)'),
      tls: tlsListenerSchema
        .optional()
        .describe(
          'HTTPS on this listener (files relative to the config file); `clientAuth: optional` lets ' +
            'partners authenticate with certificates (RFC 8705). Absent: plain HTTP',
        ),
    })
    .prefault({});

const mtls = z
  .strictObject({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'PEM CA certificate(s) that issue partner certificates for `tls_client_auth`, relative to ' +
          'the config file (intermediate CAs go here too); default: `listen.tls.caFile`',
      ),
    certificateHeader: forwardedCertificateHeaderSchema('read only from `trustedProxies`'),
    trustedProxies: z
      .array(z.string().refine((value) => parseCidr(value) !== undefined, 'an IP address or CIDR block'))
      .default([])
      .describe('Addresses or CIDR blocks of the proxies whose `certificateHeader` is believed'),
  })
  .prefault({})
  .describe('Mutual-TLS client authentication and certificate-bound tokens (RFC 8705)');

/** A resource server tokens can be issued for (RFC 8707 resource indicator = token audience). */
const resourceSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .describe('Resource indicator: an absolute URI without fragment (RFC 8707 §2), the `aud` of its tokens'),
  scopes: z
    .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
    .default([])
    .describe('Scopes that belong to this resource'),
  accessTokenTtlSec: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Access-token lifetime for this audience'),
  includeRoles: z
    .boolean()
    .default(false)
    .describe("Put the user's roles (RFC 9068 §7.2.1.1 `roles`) in JWT access tokens for this audience"),
});

export const authServerConfigSchema = z
  .strictObject({
    issuer: z
      .url()
      .refine((value) => !value.endsWith('/') && !value.includes('?') && !value.includes('#'), {
        error: 'issuer must have no trailing slash, query or fragment (RFC 8414 §2)',
      })
      .describe('Issuer identifier: the base URL of the server (RFC 8414 §2)'),
    listen: listen(4000),
    keys: z
      .strictObject({
        algorithm: z
          .enum(['ES256', 'EdDSA', 'RS256', 'PS256'])
          .default('ES256')
          .describe('Signing algorithm'),
        rotationIntervalSec: seconds('How long a key signs before the next one takes over', 30 * 86_400),
        prePublishSec: seconds(
          'How long a new key is published before it signs; at least the JWKS cache lifetime ' +
            '(the service also waits at least jwksMaxAgeSec + checkIntervalSec)',
          86_400,
        ),
        jwksMaxAgeSec: seconds('Cache-Control max-age of the JWKS response', 300),
        checkIntervalSec: seconds(
          'How often the lifecycle is advanced (a demoted key stays published this much longer)',
          60,
        ),
        expiryWarningSec: seconds(
          '`keys check` fails when the active key rotates out within this and no successor is published',
          86_400,
        ),
      })
      // A verifier caches the JWKS for max-age: a key that signs before every cached copy has
      // expired produces tokens those verifiers refuse.
      .refine((keys) => keys.prePublishSec >= keys.jwksMaxAgeSec, {
        error:
          'keys.prePublishSec must be at least keys.jwksMaxAgeSec: verifiers cache the JWKS that long, ' +
          'so a new key must be published at least that long before it signs',
        path: ['prePublishSec'],
      })
      .prefault({}),
    tokens: z
      .strictObject({
        accessTokenTtlSec: seconds('Access-token lifetime', 300),
        refreshIdleTtlSec: seconds('Refresh-token idle lifetime', 8 * 3600),
        refreshAbsoluteTtlSec: seconds('Refresh-token family absolute lifetime', 30 * 86_400),
        refreshGraceSec: z
          .number()
          .int()
          .min(0)
          .max(60)
          .default(10)
          .describe(
            'Window in which a just-rotated refresh token may be presented again (concurrent refreshes)',
          ),
        idTokenTtlSec: seconds('ID-token lifetime', 300),
        codeTtlSec: seconds('Authorization-code lifetime', 60),
        parTtlSec: seconds('Pushed-authorization-request lifetime', 60),
        exchangeTtlSec: seconds('Lifetime of internal JWTs from token exchange', 60),
      })
      .prefault({}),
    login: z
      .strictObject({
        sessionTtlSec: seconds('Login session lifetime at the authorization server', 8 * 3600),
        maxFailuresPerAccount: seconds('Failed logins per account before a lockout', 5),
        maxFailuresPerIp: seconds('Failed logins per source address before a lockout', 20),
        stuffingDistinctAccounts: seconds(
          'Distinct usernames failing from one address within the window that count as credential ' +
            'stuffing: audited (login.credential_stuffing) and the address locked out',
          10,
        ),
        failureWindowSec: seconds('Window in which failed logins are counted', 900),
        lockoutSec: seconds('Lockout duration', 900),
        delayStepMs: z
          .number()
          .int()
          .min(0)
          .default(200)
          .describe('Progressive delay per earlier failure (capped at 2 s)'),
        interactionTtlSec: seconds(
          'How long a login or consent page stays usable (its CSRF token and pending request)',
          600,
        ),
        backchannelLogoutTimeoutMs: z
          .number()
          .int()
          .min(100)
          .max(30_000)
          .default(5000)
          .describe('Time allowed to each client back-channel logout notification'),
      })
      .prefault({}),
    dpop: z
      .strictObject({
        requireNonce: z
          .boolean()
          .default(true)
          .describe('Require a server-provided nonce in DPoP proofs (RFC 9449 §8)'),
        maxAgeSec: seconds('Oldest acceptable proof', 60),
        nonceTtlSec: seconds('How long a server nonce stays valid', 300),
      })
      .prefault({}),
    resources: z
      .array(resourceSchema)
      .default([])
      .describe('Resource servers (audiences) tokens may be issued for'),
    cookieSecure: z
      .enum(['auto', 'always'])
      .default('auto')
      .describe('`auto`: Secure cookies when the issuer is https; plain HTTP only on loopback'),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/))
      .default(['openid', 'profile', 'email', 'offline_access'])
      .describe('Scopes besides those of resources (OpenID Connect scopes)'),
    mtls,
  })
  .superRefine((config, ctx) => {
    let protocol: string;
    try {
      protocol = new URL(config.issuer).protocol;
    } catch {
      return;
    }
    const tls = config.listen.tls !== undefined;
    // RFC 8414 §2: the issuer is the URL clients reach; it must say how the listener speaks.
    if (protocol === 'http:' && tls) {
      ctx.addIssue({
        code: 'custom',
        path: ['issuer'],
        message: 'listen.tls is set, so the issuer must be https://',
      });
    }
    // An https issuer on a plain listener is the load-balancer deployment: TLS ends at the balancer
    // (whose client certificate, if any, arrives in mtls.certificateHeader from a trusted proxy).
    if (config.mtls.certificateHeader !== undefined && config.mtls.trustedProxies.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['mtls', 'trustedProxies'],
        message: 'mtls.certificateHeader is read only from trusted proxies: list them',
      });
    }
  })
  .describe('The OAuth 2.1 / OpenID Connect authorization server');

export type AuthServerConfig = z.output<typeof authServerConfigSchema>;
export type AuthServerConfigInput = z.input<typeof authServerConfigSchema>;

/** Parses (and defaults) an auth-server section given as plain data, e.g. by tests. */
export function buildAuthServerConfig(input: AuthServerConfigInput): AuthServerConfig {
  return authServerConfigSchema.parse(input);
}
