import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ClientView } from '@gatehouse/auth-server';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse, requireValue } from '../args.js';
import { loadDeployment } from '../config/load-deployment.js';
import { CommandError, EXIT_OK, UsageError, formatTable, writeJson, writeLine, type CliIo } from '../io.js';
import { subcommands } from './subcommands.js';
import { CLI_ACTOR, withRuntime } from './common.js';

/** `gatehouse clients create|list|delete`: directly on the deployment's stores, no server needed. */
export const clientsCommand = subcommands('clients', { create, list, delete: remove });

const GRANT_ALIASES: Readonly<Record<string, string>> = {
  'token-exchange': 'urn:ietf:params:oauth:grant-type:token-exchange',
  token_exchange: 'urn:ietf:params:oauth:grant-type:token-exchange',
};

async function create(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    ...DEPLOYMENT_OPTIONS,
    ...JSON_OPTION,
    name: { type: 'string' },
    grant: { type: 'string', multiple: true },
    scope: { type: 'string' },
    'token-format': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'auth-method': { type: 'string' },
    public: { type: 'boolean' },
    'first-party': { type: 'boolean' },
    resource: { type: 'string', multiple: true },
    introspect: { type: 'boolean' },
    'require-par': { type: 'boolean' },
    jwks: { type: 'string' },
    // RFC 8705 §2.1.2: the one certificate name a tls_client_auth client is registered with.
    'tls-subject-dn': { type: 'string' },
    'tls-san-dns': { type: 'string' },
    'tls-san-uri': { type: 'string' },
    'tls-san-ip': { type: 'string' },
    'tls-san-email': { type: 'string' },
    // RFC 8705 §3.4: access tokens bound to the client's certificate even without mTLS client auth.
    'bound-tokens': { type: 'boolean' },
  });
  const name = requireValue(values.name, '--name');
  const grants = values.grant ?? [];
  if (grants.length === 0) throw new UsageError('--grant is required (repeat it for several grant types)');
  if (values.public === true && values['auth-method'] !== undefined && values['auth-method'] !== 'none') {
    throw new UsageError('--public means --auth-method none');
  }
  const scope = values.scope?.trim().split(/\s+/).filter(Boolean).join(' ');
  const authMethod = values.public === true ? 'none' : values['auth-method'];
  // The same validation as the admin API (RFC 7591 names); problems come back for the operator.
  const input = {
    client_name: name,
    grant_types: grants.map((grant) => GRANT_ALIASES[grant] ?? grant),
    ...(scope === undefined || scope === '' ? {} : { scope }),
    ...(values['token-format'] === undefined ? {} : { token_format: values['token-format'] }),
    ...(authMethod === undefined ? {} : { token_endpoint_auth_method: authMethod }),
    ...(values['redirect-uri'] === undefined ? {} : { redirect_uris: values['redirect-uri'] }),
    ...(values['post-logout-redirect-uri'] === undefined
      ? {}
      : { post_logout_redirect_uris: values['post-logout-redirect-uri'] }),
    ...(values.resource === undefined ? {} : { resources: values.resource }),
    ...(values['first-party'] === true ? { first_party: true } : {}),
    ...(values.introspect === true ? { can_introspect: true } : {}),
    ...(values['require-par'] === true ? { require_pushed_authorization_requests: true } : {}),
    ...(values.jwks === undefined ? {} : { jwks: await readJwks(resolve(io.cwd, values.jwks)) }),
    ...tlsClientAuthName(values),
    ...(values['bound-tokens'] === true ? { tls_client_certificate_bound_access_tokens: true } : {}),
  };
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const { client, client_secret: secret } = await withRuntime(io, deployment, (runtime) =>
    runtime.operations().createClient(input, CLI_ACTOR),
  );
  if (values.json === true) {
    writeJson(io, { ...client, ...(secret === undefined ? {} : { client_secret: secret }) });
    return EXIT_OK;
  }
  writeLine(io.stdout, `Client created: ${client.client_name}`);
  writeLine(io.stdout, `  client_id:      ${client.client_id}`);
  if (secret !== undefined) {
    writeLine(io.stdout, `  client_secret:  ${secret}`);
    writeLine(io.stdout, '                  (shown once: only its hash is stored)');
  }
  writeLine(io.stdout, `  auth method:    ${client.token_endpoint_auth_method}`);
  writeLine(io.stdout, `  grant types:    ${client.grant_types.join(' ')}`);
  writeLine(io.stdout, `  scope:          ${client.scope}`);
  writeLine(io.stdout, `  token format:   ${client.token_format}`);
  for (const uri of client.redirect_uris) writeLine(io.stdout, `  redirect URI:   ${uri}`);
  for (const resource of client.resources) writeLine(io.stdout, `  resource:       ${resource}`);
  return EXIT_OK;
}

/** `--jwks FILE`: the client's public keys for private_key_jwt (RFC 7523), a JWK Set document. */
async function readJwks(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new CommandError(`--jwks ${file}: cannot be read`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CommandError(`--jwks ${file}: not JSON (expected a JWK Set: {"keys": [...]})`);
  }
}

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  const clients = await withRuntime(io, deployment, (runtime) => runtime.operations().listClients(CLI_ACTOR));
  if (values.json === true) {
    writeJson(io, { clients });
    return EXIT_OK;
  }
  if (clients.length === 0) {
    writeLine(io.stdout, 'No clients.');
    return EXIT_OK;
  }
  writeLine(
    io.stdout,
    formatTable(['CLIENT_ID', 'NAME', 'AUTH', 'GRANTS', 'FORMAT', 'SCOPE'], clients.map(row)),
  );
  return EXIT_OK;
}

const row = (client: ClientView): string[] => [
  client.client_id,
  client.client_name,
  client.token_endpoint_auth_method,
  client.grant_types.join(','),
  client.token_format,
  client.scope,
];

async function remove(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION }, 1);
  const clientId = requireValue(positionals[0], 'client id');
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  await withRuntime(io, deployment, (runtime) => runtime.operations().deleteClient(clientId, CLI_ACTOR));
  if (values.json === true) writeJson(io, { deleted: clientId });
  else writeLine(io.stdout, `Client ${clientId} deleted.`);
  return EXIT_OK;
}

const TLS_NAME_FLAGS = {
  'tls-subject-dn': 'tls_client_auth_subject_dn',
  'tls-san-dns': 'tls_client_auth_san_dns',
  'tls-san-uri': 'tls_client_auth_san_uri',
  'tls-san-ip': 'tls_client_auth_san_ip',
  'tls-san-email': 'tls_client_auth_san_email',
} as const;

/** The `--tls-*` flag given (the admin API checks that there is exactly one with tls_client_auth). */
function tlsClientAuthName(
  values: Partial<Record<keyof typeof TLS_NAME_FLAGS, string>>,
): Record<string, string> {
  const names: Record<string, string> = {};
  for (const [flag, field] of Object.entries(TLS_NAME_FLAGS)) {
    const value = values[flag as keyof typeof TLS_NAME_FLAGS];
    if (value !== undefined) names[field] = value;
  }
  return names;
}
