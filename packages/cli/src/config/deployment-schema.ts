import { sinksConfigSchema } from '@gatehouse/audit';
import { MIN_ADMIN_TOKEN_LENGTH, authServerConfigSchema } from '@gatehouse/auth-server';
import { bffConfigSchema } from '@gatehouse/bff';
import { isAdminOperatorEntry, tlsListenerSchema } from '@gatehouse/core';
import { gatewayConfigSchema } from '@gatehouse/gateway';
import { z } from 'zod';

/**
 * One deployment's configuration file (`gatehouse.yaml`). Unknown keys are errors; `${NAME}` and
 * `${NAME:-default}` in values are replaced from the environment (core `loadConfigFile`), which is
 * how secrets such as the admin token stay out of the file.
 */
export const deploymentConfigSchema = z
  .strictObject({
    dataDir: z
      .string()
      .min(1)
      .default('.gatehouse')
      .describe(
        'Folder of the embedded stores (SQLite database, audit log, generated key-encryption key), ' +
          "relative to this file's folder; `--data-dir` overrides it",
      ),
    database: z
      .strictObject({
        url: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
          .optional()
          .describe(
            'PostgreSQL URL for several instances; default: SQLite at `<dataDir>/gatehouse.db`. ' +
              'The DATABASE_URL environment variable overrides it',
          ),
      })
      .prefault({})
      .describe('Durable store: clients, users, keys, grants, tokens, sessions'),
    sharedState: z
      .strictObject({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL')
          .optional()
          .describe(
            'Redis URL for several instances; default: process memory. ' +
              'The REDIS_URL environment variable overrides it',
          ),
        prefix: z
          .string()
          .regex(/^[A-Za-z0-9_.:-]{1,64}$/, '1 to 64 letters, digits, `_`, `.`, `:` or `-`')
          .default('gatehouse:')
          .describe(
            'Prefix of every Redis key and channel, so that several deployments (or environments) can share one ' +
              'Redis; every instance of one deployment must use the same',
          ),
      })
      .prefault({})
      .describe('Hot shared state: replay caches, counters, revocation and key events'),
    kekFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding the key-encryption key of private signing keys, relative to this file; ' +
          'GATEHOUSE_KEK (base64 of 32 bytes) is the alternative',
      ),
    log: z
      .strictObject({
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info')
          .describe('Lowest level written (JSON lines on standard output)'),
      })
      .prefault({}),
    admin: z
      .strictObject({
        listen: z
          .strictObject({
            host: z.string().min(1).default('127.0.0.1').describe('Address to bind'),
            port: z.number().int().min(0).max(65535).default(9090).describe('TCP port (0: any free port)'),
            tls: tlsListenerSchema
              .optional()
              .describe(
                'HTTPS for the admin API of `gatehouse auth-server` (clientAuth require: operators need a certificate)',
              ),
          })
          .prefault({})
          .describe('Where the admin API listens: keep it on loopback or a private network'),
        token: z
          .string()
          .min(MIN_ADMIN_TOKEN_LENGTH)
          .optional()
          .describe(
            'Bearer credential of the admin API, typically `${GATEHOUSE_ADMIN_TOKEN}` (at least ' +
              `${MIN_ADMIN_TOKEN_LENGTH} characters). No default: without it the admin API answers 503, ` +
              'and production (NODE_ENV=production) refuses to start',
          ),
        operators: z
          .array(
            z.string().refine(isAdminOperatorEntry, {
              error: 'expected sha256:<base64url thumbprint of the certificate> or a SAN URI',
            }),
          )
          .default([])
          .describe(
            'Operators who authenticate to the admin APIs (auth server and gateway) with a client ' +
              'certificate instead of the token: `sha256:` and the SHA-256 thumbprint of one certificate ' +
              '(base64url, or hex as `gatehouse certs` and OpenSSL print it) or a SAN URI (`spiffe://…`, ' +
              'compared exactly). Only ' +
              'on an admin listener whose TLS asks for certificates (clientAuth) and verifies them (caFile)',
          ),
      })
      .prefault({})
      .describe('Admin API (clients, users, keys) on its own listener'),
    audit: z
      .strictObject({
        checkpointIntervalSec: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .default(60)
          .describe(
            'How often the auth server signs a checkpoint of the audit store head when it advanced ' +
              '(rows after the latest checkpoint are protected by the hash chain alone)',
          ),
        retention: z
          .strictObject({
            maxAgeDays: z
              .number()
              .int()
              .min(30)
              .max(36_500)
              .describe(
                'Records older than this many days are pruned through the newest signed checkpoint ' +
                  'written before that age; the pruning is itself a signed `audit.prune` record. ' +
                  'Never past a configured sink that has not delivered them',
              ),
            intervalSec: z
              .number()
              .int()
              .min(60)
              .max(604_800)
              .default(3600)
              .describe('How often the auth server looks for records to prune'),
          })
          .optional()
          .describe(
            'Retention pruning run by the auth server; without it the audit store keeps every record ' +
              '(`gatehouse audit prune` prunes by hand)',
          ),
        pseudonymize: z
          .strictObject({
            sourceIp: z
              .boolean()
              .default(false)
              .describe('Replace client addresses (sourceIp, targets of type ip) by keyed pseudonyms'),
            subject: z
              .boolean()
              .default(false)
              .describe('Replace data subjects (actor sub, targets of type user) by keyed pseudonyms'),
            keyFile: z
              .string()
              .min(1)
              .optional()
              .describe(
                'The HMAC key (32+ random bytes, base64), kept apart from the database; default ' +
                  '`GATEHOUSE_AUDIT_PSEUDONYM_KEY`, else `<dataDir>/audit-pseudonym.key` (created 0600)',
              ),
          })
          .prefault({})
          .describe(
            'Keyed pseudonymisation of personal data before events are spooled (GDPR Art. 4(5)); ' +
              '`gatehouse report access --subject` still finds a subject with the key',
          ),
        sinks: sinksConfigSchema.describe(
          'SIEM sinks (file, stdout, syslog, relp, webhook) run by the auth server, reading the audit ' +
            'store at least once in order; cursors in `<dataDir>/audit-sinks/`; relative paths are ' +
            "relative to this file's folder. Each item: `type` (`file`, `stdout`, `syslog`, `relp`, `webhook`), " +
            '`id` and its options, listed in packages/audit/README.md (SIEM sinks) and docs/audit.md',
        ),
      })
      .prefault({})
      .describe(
        'The tamper-evident audit store (same database as the other stores): every process spools ' +
          'its events under `<dataDir>/audit-spool/` and ships them to it',
      ),
    authServer: authServerConfigSchema,
    gateway: gatewayConfigSchema.optional().describe('The API gateway (`gatehouse gateway`)'),
    bff: bffConfigSchema
      .optional()
      .describe(
        'The Backend-for-Frontend (`gatehouse bff`); relative `staticDir` and `session.sqliteFile` ' +
          "are relative to this file's folder",
      ),
  })
  .describe('A Gatehouse deployment');

export type DeploymentConfig = z.output<typeof deploymentConfigSchema>;
export type DeploymentConfigInput = z.input<typeof deploymentConfigSchema>;

/** The JSON Schema of the configuration file (what `gatehouse config schema` prints). */
export function deploymentJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(deploymentConfigSchema, { io: 'input', unrepresentable: 'any' });
}
