import { tlsListenerSchema } from '@gatehouse/core';
import { z } from 'zod';
import { isLoopbackUrl } from '../http/loopback.js';

/**
 * An origin exactly as browsers serialise it in the `Origin` header (RFC 6454 §6.2): scheme, host,
 * port only when not the default, lower case, no path and no trailing slash. Anything else could
 * never match exactly, so it is refused here instead of silently never matching. `null` (RFC 6454
 * §7.1: sandboxed documents, `file:`, some redirects) is never an allowed origin.
 */
const originSchema = z.string().refine((value) => {
  if (value === 'null') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}, 'must be an origin as browsers send it: scheme://host[:port], lower case, no path, not "null"');

const httpUrlSchema = z.url({ protocol: /^https?$/ });
const seconds = (fallback: number) => z.number().int().positive().default(fallback);

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a valid scope token');

/**
 * The `bff` section of a deployment file. Unknown keys are refused (a typo is an error, not a
 * silently ignored setting); every violation is reported at once by zod.
 */
export const bffConfigSchema = z
  .strictObject({
    publicUrl: originSchema.describe(
      'the origin browsers use for the BFF (https; plain http only on loopback for development)',
    ),
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(3000),
        tls: tlsListenerSchema
          .optional()
          .describe(
            'HTTPS on the listener itself (no TLS-terminating proxy in front); needs an https publicUrl',
          ),
      })
      .prefault({}),
    oidc: z.strictObject({
      issuer: httpUrlSchema.describe('the OpenID Provider; its discovery document names every endpoint'),
      clientId: z.string().min(1),
      clientSecret: z.string().min(1).describe('client_secret_basic; the BFF is a confidential client'),
      scopes: z
        .array(scopeToken)
        .min(1)
        .default(['openid', 'profile'])
        .refine((scopes) => scopes.includes('openid'), 'must include openid'),
      resource: httpUrlSchema
        .optional()
        .describe('RFC 8707 resource indicator of the API (the gateway audience)'),
      pushedAuthorizationRequests: z
        .enum(['auto', 'always'])
        .default('auto')
        .describe('`auto`: PAR when the metadata says require_pushed_authorization_requests'),
      postLogoutRedirectUri: httpUrlSchema.optional().describe('default: publicUrl + "/"'),
      timeoutMs: z.number().int().positive().default(10_000),
    }),
    gateway: z.strictObject({
      url: httpUrlSchema.describe('where /api/* is relayed, path and query unchanged'),
      timeoutMs: z.number().int().positive().default(30_000),
    }),
    allowedOrigins: z
      .array(originSchema)
      .default([])
      .describe('other origins allowed for CORS and state-changing requests; publicUrl is always allowed'),
    session: z
      .strictObject({
        sqliteFile: z.string().min(1).default(':memory:'),
        databaseUrl: z.string().optional().describe('postgres:// URL instead of SQLite'),
        redisUrl: z
          .url({ protocol: /^rediss?$/ })
          .optional()
          .describe(
            'redis:// or rediss:// URL: sessions in Redis, shared by every BFF instance (needs encryptionKey)',
          ),
        redisKeyPrefix: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,64}$/, '1 to 64 letters, digits, `_`, `.`, `:` or `-`')
          .default('gatehouse:bff:')
          .describe('Prefix of every session key in Redis, so that several deployments can share one Redis'),
        idleTimeoutSec: seconds(1800),
        absoluteTimeoutSec: seconds(28_800),
        loginTimeoutSec: seconds(600),
        refreshBeforeExpirySec: z.number().int().min(0).default(60),
        sameSite: z.enum(['lax', 'strict']).default('lax'),
        encryptionKey: z
          .string()
          .regex(/^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url')
          .optional()
          .describe('AES-256-GCM key for tokens at rest; default: a random key per process'),
      })
      .prefault({}),
    relay: z
      .strictObject({
        bodyLimitBytes: z.number().int().positive().default(1_048_576),
      })
      .prefault({}),
    staticDir: z.string().min(1).optional(),
    admin: z
      .strictObject({
        token: z.string().min(32).describe('Bearer token for /admin/bff/sessions'),
      })
      .optional(),
  })
  .superRefine((config, ctx) => {
    if (new URL(config.publicUrl).protocol === 'http:' && !isLoopbackUrl(config.publicUrl)) {
      ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'plain http only on loopback' });
    }
    if (new URL(config.oidc.issuer).protocol === 'http:' && !isLoopbackUrl(config.oidc.issuer)) {
      ctx.addIssue({ code: 'custom', path: ['oidc', 'issuer'], message: 'plain http only on loopback' });
    }
    if (config.listen.tls !== undefined && new URL(config.publicUrl).protocol !== 'https:') {
      // Served over TLS but announced as http: cookies without Secure, a redirect_uri that never matches.
      ctx.addIssue({ code: 'custom', path: ['publicUrl'], message: 'must be https when listen.tls is set' });
    }
    if (config.session.idleTimeoutSec > config.session.absoluteTimeoutSec) {
      ctx.addIssue({
        code: 'custom',
        path: ['session', 'idleTimeoutSec'],
        message: 'must not exceed absoluteTimeoutSec',
      });
    }
    if (config.session.redisUrl !== undefined) {
      // A random key per process would make each instance's sessions unreadable to the others.
      if (config.session.encryptionKey === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['session', 'encryptionKey'],
          message: 'required with redisUrl: every instance must open the same sealed tokens',
        });
      }
      if (config.session.databaseUrl !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['session', 'redisUrl'],
          message: 'one session store: redisUrl or databaseUrl, not both',
        });
      }
    }
  });

export type BffConfigInput = z.input<typeof bffConfigSchema>;
export type BffConfig = Readonly<z.output<typeof bffConfigSchema>>;

/** Validated, defaulted and frozen configuration; throws a ZodError listing every violation. */
export function buildBffConfig(input: BffConfigInput): BffConfig {
  return deepFreeze(bffConfigSchema.parse(input));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
