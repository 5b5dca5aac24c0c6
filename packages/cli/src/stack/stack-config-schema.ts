import { gatewayConfigSchema } from '@gatehouse/gateway';
import { z } from 'zod';

const port = (fallback: number, what: string) =>
  z.number().int().min(1).max(65_535).default(fallback).describe(what);

const relativePath = z.string().min(1);

/** A demo service started by `gatehouse up` (a workspace of `examples/`). */
const serviceSchema = z.strictObject({
  main: relativePath.describe('Entry module, relative to the stack file (`node MAIN --config FILE`)'),
  audience: z.url().describe('Internal audience of the service: the `aud` of the JWTs it accepts'),
  scopes: z.array(z.string().min(1)).min(1).describe('Scopes of its audience'),
  paths: z
    .array(z.string().regex(/^\/[A-Za-z0-9/_-]*$/))
    .min(1)
    .describe('Path prefixes the gateway routes to it'),
});

/**
 * The stack file of `gatehouse up` (`examples/demo/gatehouse.yaml`): where the demo stack listens
 * and what it runs. From it `gatehouse init` writes a complete deployment file into the data dir,
 * which every component reads, so each of them can also be started alone.
 */
export const stackConfigSchema = z
  .strictObject({
    dataDir: z
      .string()
      .min(1)
      .default('.gatehouse')
      .describe("Data folder, relative to this file's folder; `--data-dir` overrides it"),
    host: z
      .string()
      .regex(/^(127\.\d+\.\d+\.\d+|localhost)$/, 'a loopback address: the demo stack is for one machine')
      .default('127.0.0.1')
      .describe('Loopback address every component binds'),
    ports: z
      .strictObject({
        authServer: port(4000, 'Authorization server (the issuer)'),
        gateway: port(8080, 'API gateway'),
        bff: port(3000, 'BFF and the demo app'),
        admin: port(9090, 'One admin and metrics entry for the whole stack'),
        authServerAdmin: port(9091, "Auth server's own admin listener (behind the admin entry)"),
        gatewayAdmin: port(9092, "Gateway's own admin listener (behind the admin entry)"),
        accounts: port(9443, 'accounts service (mTLS)'),
        orders: port(9444, 'orders service (mTLS)'),
      })
      .prefault({})
      .describe('Listening ports; `--port-base N` replaces them with N, N+1, … in this order'),
    app: relativePath.default('app').describe('Folder of the single-page app the BFF serves'),
    openapi: relativePath.default('openapi.yaml').describe('OpenAPI document of the demo API'),
    gatewayIdentity: z
      .string()
      .regex(/^spiffe:\/\/[a-z0-9.-]+\/[A-Za-z0-9/._-]+$/, 'a SPIFFE ID')
      .default('spiffe://gatehouse.local/gateway')
      .describe("SAN URI of the gateway's client certificate, the only caller the services accept"),
    services: z
      .strictObject({ accounts: serviceSchema, orders: serviceSchema })
      .describe('The demo services behind the gateway'),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
    gateway: z
      .strictObject({
        bruteForce: gatewayConfigSchema.shape.bruteForce,
        detection: gatewayConfigSchema.shape.detection,
        alerts: gatewayConfigSchema.shape.alerts,
      })
      .optional()
      .describe(
        "The gateway's abuse protection in this stack (brute-force bans, detectors, alert rules), " +
          "as in a deployment's `gateway` section; absent: the gateway's defaults",
      ),
  })
  .describe('The demo stack of `gatehouse up`');

export type StackConfig = z.output<typeof stackConfigSchema>;
export type StackPorts = StackConfig['ports'];

/** The order `--port-base` assigns ports in. */
export const PORT_ORDER: readonly (keyof StackPorts)[] = [
  'authServer',
  'gateway',
  'bff',
  'admin',
  'authServerAdmin',
  'gatewayAdmin',
  'accounts',
  'orders',
];
