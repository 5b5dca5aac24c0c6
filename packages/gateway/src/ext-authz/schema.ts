import { tlsListenerSchema } from '@gatehouse/core';
import { z } from 'zod';

/** An absolute path of plain segments: no trailing slash, no dot-segments, no escapes. */
const endpointPath = z
  .string()
  .regex(/^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+$/, 'an absolute path of plain segments')
  .refine((value) => !/(^|\/)\.\.?(\/|$)/.test(value), { error: 'no dot-segments' });

/**
 * External authorization (issue 7, existing data planes): the gateway's stages answer a data plane's
 * check (nginx `auth_request`, Envoy `ext_authz` over HTTP, Traefik `forwardAuth`) instead of proxying.
 */
export const extAuthzSchema = z
  .strictObject({
    style: z
      .enum(['nginx', 'envoy', 'traefik'])
      .describe(
        'How the data plane describes the original request: nginx (X-Original-URI / X-Original-Method), ' +
          'envoy (original method, original path appended to `path`), traefik (X-Forwarded-Method / -Uri / -Host)',
      ),
    listen: z
      .strictObject({
        host: z.string().min(1).default('127.0.0.1').describe('Address to bind (keep it private)'),
        port: z.number().int().min(0).max(65535).default(9191).describe('TCP port (0: any free port)'),
        tls: tlsListenerSchema
          .optional()
          .describe(
            'HTTPS for the check endpoint; with `clientAuth: require`, only data planes presenting a ' +
              'certificate of `caFile` complete the handshake (mutual TLS); absent: plain HTTP',
          ),
      })
      .prefault({})
      .describe(
        'Its own listener (HTTP/1.1, over TLS with `tls`); only peers in `trustedProxies` get an answer other than 403',
      ),
    path: endpointPath
      .default('/_gatehouse/ext-authz')
      .describe('Path of the check endpoint (envoy: the `path_prefix` the original path follows)'),
    tokenHeader: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'a lower-case header name')
      .default('authorization')
      .describe('Header of an allowed answer carrying `Bearer <internal JWT>` for the data plane to forward'),
    requireCanonicalPath: z
      .boolean()
      .optional()
      .describe(
        'Refuse (400) an original path that is not already canonical; default true for envoy and traefik, ' +
          'which forward their own path, false for nginx, which forwards X-Gatehouse-Upstream-Path',
      ),
  })
  .optional()
  .describe(
    'External-authorization endpoint for nginx auth_request, Envoy ext_authz and Traefik forwardAuth',
  );

export type ExtAuthzConfig = NonNullable<z.output<typeof extAuthzSchema>>;

/** The rule the block adds to the whole configuration: the data plane must be a trusted proxy. */
export function checkExtAuthzConfig(
  config: { readonly extAuthz?: ExtAuthzConfig | undefined; readonly trustedProxies: readonly string[] },
  context: z.RefinementCtx,
): void {
  if (config.extAuthz !== undefined && config.trustedProxies.length === 0)
    context.addIssue({
      code: 'custom',
      message: 'extAuthz answers only trusted peers: list the data plane in trustedProxies',
      path: ['extAuthz'],
    });
}
