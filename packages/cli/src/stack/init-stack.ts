import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAuthServer } from '@gatehouse/auth-server';
import { createDevCa, loadDevCa, randomToken, type DevCa } from '@gatehouse/core';
import { deploymentConfigSchema } from '../config/deployment-schema.js';
import type { Deployment } from '../config/load-deployment.js';
import { CommandError, type CliIo } from '../io.js';
import { CLI_ACTOR, withRuntime } from '../commands/common.js';
import { loadDeploymentKek } from '../runtime/kek.js';
import {
  buildServiceConfig,
  buildStackDeployment,
  gatewayAudience,
  pkiFiles,
  serviceIdentity,
  type StackSecrets,
} from './build-stack-deployment.js';
import { SERVICE_NAMES, type Stack } from './load-stack.js';
import type { StackPorts } from './stack-config-schema.js';

/** `<dataDir>/demo.json`: the contract of the demo stack (docs/architecture.md, "Contract: the demo stack"). */
export interface DemoJson {
  readonly issuer: string;
  readonly gateway: string;
  readonly bff: string;
  readonly admin: string;
  readonly adminToken: string;
  readonly clients: {
    readonly partner: DemoClient & { readonly client_secret: string };
    readonly internal: DemoClient & { readonly client_secret: string };
    readonly cli: DemoClient & { readonly redirect_uri: string };
  };
  readonly users: Readonly<Record<'alice' | 'bob' | 'admin', DemoUser>>;
}

interface DemoClient {
  readonly client_id: string;
  readonly token_format: 'opaque' | 'jwt';
  readonly scope: string;
}

interface DemoUser {
  readonly username: string;
  readonly password: string;
  readonly sub: string;
  readonly roles?: readonly string[];
}

/** `<dataDir>/stack-state.json`: what the first run generated besides demo.json. */
interface StackState extends StackSecrets {
  readonly version: 1;
  readonly host: string;
  readonly ports: StackPorts;
  /** Created for https (`--tls`): the issuer and the registered redirect URIs depend on it. */
  readonly tls?: boolean;
}

export interface InitializedStack {
  readonly demo: DemoJson;
  readonly secrets: StackSecrets;
  /** The generated deployment file every component reads. */
  readonly deploymentFile: string;
  readonly serviceConfigFiles: Readonly<Record<(typeof SERVICE_NAMES)[number], string>>;
  /** True on the first run (clients, users and secrets were created). */
  readonly created: boolean;
}

/** Certificates this close to expiry are issued again at start. */
const RENEW_BEFORE_MS = 7 * 86_400_000;
const CLI_REDIRECT_URI = 'http://127.0.0.1:8765/callback';

const files = (dataDir: string) => ({
  demo: join(dataDir, 'demo.json'),
  state: join(dataDir, 'stack-state.json'),
  deployment: join(dataDir, 'gatehouse.yaml'),
  database: join(dataDir, 'gatehouse.db'),
});

/** Files holding secrets: owner only (the data dir itself is 0700). */
async function writePrivate(file: string, text: string): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  await chmod(file, 0o600);
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

function expiresSoon(certPem: string, now: number): boolean {
  return Date.parse(new X509Certificate(certPem).validTo) - now < RENEW_BEFORE_MS;
}

/**
 * The development CA and the leaf certificates of the stack: the gateway's client certificate
 * (SAN URI = its SPIFFE ID, the only caller the services accept) and a server certificate per
 * service. Reused on later runs; a leaf close to expiry is issued again by the same CA.
 */
async function ensurePki(stack: Stack, now: number): Promise<void> {
  const pki = pkiFiles(stack.dataDir);
  await mkdir(pki.folder, { recursive: true, mode: 0o700 });
  let ca: DevCa;
  if (existsSync(pki.ca.cert) && existsSync(pki.ca.key)) {
    ca = await loadDevCa(await readFile(pki.ca.cert, 'utf8'), await readFile(pki.ca.key, 'utf8'));
  } else {
    ca = await createDevCa({ commonName: 'Gatehouse Development CA' });
    await writePrivate(pki.ca.key, ca.keyPem);
    await writeFile(pki.ca.cert, ca.certPem);
  }
  const hostIp = stack.host === 'localhost' ? ['127.0.0.1'] : [stack.host];
  const leaves = [
    {
      // Every listener's certificate with --tls (issued always: a later --tls run finds it ready).
      files: pki.server,
      options: { commonName: 'gatehouse-local', dns: ['localhost'], ip: hostIp, usage: 'server' as const },
    },
    {
      files: pki.gateway,
      options: { commonName: 'gateway', uri: [stack.config.gatewayIdentity], usage: 'client' as const },
    },
    ...SERVICE_NAMES.map((name) => ({
      files: pki[name],
      options: {
        commonName: name,
        dns: ['localhost'],
        ip: hostIp,
        uri: [serviceIdentity(name)],
        usage: 'server' as const,
        validityDays: 90,
      },
    })),
  ];
  for (const leaf of leaves) {
    if (existsSync(leaf.files.cert) && !expiresSoon(await readFile(leaf.files.cert, 'utf8'), now)) continue;
    const issued = await ca.issue({ validityDays: 90, ...leaf.options });
    await writePrivate(leaf.files.key, issued.keyPem);
    await writeFile(leaf.files.cert, issued.certPem);
  }
}

const password = (): string => randomBytes(18).toString('base64url');

/**
 * First run only: the demo's clients and users, created directly on the stores (as `gatehouse
 * clients create` and `users create` would), each secret and password random for this data dir.
 */
async function createDemoPrincipals(
  io: CliIo,
  stack: Stack,
): Promise<{ demo: DemoJson; secrets: StackSecrets }> {
  const adminToken = randomToken(32);
  const placeholder: StackSecrets = {
    adminToken,
    gatewayClient: { clientId: 'pending', clientSecret: 'pending' },
    bffClient: { clientId: 'pending', clientSecret: 'pending' },
    bffSessionKey: randomBytes(32).toString('base64url'),
  };
  const config = deploymentConfigSchema.parse(buildStackDeployment(stack, placeholder));
  const deployment: Deployment = {
    file: files(stack.dataDir).deployment,
    config,
    dataDir: stack.dataDir,
    databaseUrl: undefined,
    sqliteFile: files(stack.dataDir).database,
    redisUrl: undefined,
    redisPrefix: config.sharedState.prefix,
    kekFile: undefined,
    production: false,
  };
  const api = gatewayAudience(stack);
  const resources = [api, ...SERVICE_NAMES.map((name) => stack.config.services[name].audience)];
  // The development key-encryption key (`<dataDir>/kek.key`) seals the private signing keys.
  const kek = await loadDeploymentKek(io, deployment);
  return withRuntime(io, deployment, async (runtime) => {
    // The first signing key: the auth server creates it when it starts on an empty key table.
    const keys = await createAuthServer({ ...runtime.base, config: config.authServer, kek: kek.kek });
    await keys.close();
    const operations = runtime.operations();
    const create = async (input: Record<string, unknown>) => {
      const created = await operations.createClient(input, CLI_ACTOR);
      return { clientId: created.client.client_id, clientSecret: created.client_secret ?? '' };
    };
    const gateway = await create({
      client_name: 'Gatehouse gateway (introspection and token exchange)',
      grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      can_introspect: true,
    });
    const bff = await create({
      client_name: 'Gatehouse demo app (BFF)',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [`${stack.urls.bff}/auth/callback`],
      post_logout_redirect_uris: [`${stack.urls.bff}/`],
      backchannel_logout_uri: `${stack.urls.bff}/auth/backchannel-logout`,
      scope: config.bff?.oidc.scopes.join(' '),
      resources,
      token_format: 'opaque',
      first_party: true,
    });
    const partnerScope = 'accounts:read orders:read';
    const partner = await create({
      client_name: 'Demo partner (opaque tokens)',
      grant_types: ['client_credentials'],
      scope: partnerScope,
      resources,
      token_format: 'opaque',
    });
    const internalScope = 'accounts:read accounts:write orders:read orders:write';
    const internal = await create({
      client_name: 'Demo internal caller (JWT access tokens)',
      grant_types: ['client_credentials'],
      scope: internalScope,
      resources,
      token_format: 'jwt',
    });
    const cliScope = 'openid accounts:read accounts:write orders:read';
    const cli = await create({
      client_name: 'Demo command-line app (public client, PKCE)',
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      redirect_uris: [CLI_REDIRECT_URI],
      scope: cliScope,
      resources,
      token_format: 'opaque',
    });
    const user = async (username: string, name: string, roles?: string[]): Promise<DemoUser> => {
      const secret = password();
      const created = await operations.createUser(
        { username, password: secret, name, ...(roles === undefined ? {} : { roles }) },
        CLI_ACTOR,
      );
      return { username, password: secret, sub: created.sub, ...(roles === undefined ? {} : { roles }) };
    };
    const demo: DemoJson = {
      issuer: stack.urls.issuer,
      gateway: stack.urls.gateway,
      bff: stack.urls.bff,
      admin: stack.urls.admin,
      adminToken,
      clients: {
        partner: {
          client_id: partner.clientId,
          client_secret: partner.clientSecret,
          token_format: 'opaque',
          scope: partnerScope,
        },
        internal: {
          client_id: internal.clientId,
          client_secret: internal.clientSecret,
          token_format: 'jwt',
          scope: internalScope,
        },
        cli: {
          client_id: cli.clientId,
          redirect_uri: CLI_REDIRECT_URI,
          token_format: 'opaque',
          scope: cliScope,
        },
      },
      users: {
        alice: await user('alice', 'Alice Example'),
        bob: await user('bob', 'Bob Example'),
        admin: await user('admin', 'Demo Administrator', ['admin']),
      },
    };
    return { demo, secrets: { ...placeholder, gatewayClient: gateway, bffClient: bff } };
  });
}

/**
 * `gatehouse init`, and the first step of `gatehouse up`: the data dir with its development CA and
 * certificates, the demo's clients and users (first run only), `demo.json`, and the generated
 * deployment and service configuration files (written on every run, so they follow the stack file).
 */
export async function initStack(io: CliIo, stack: Stack, now = Date.now()): Promise<InitializedStack> {
  const paths = files(stack.dataDir);
  await mkdir(stack.dataDir, { recursive: true, mode: 0o700 });
  await ensurePki(stack, now);

  let demo: DemoJson;
  let secrets: StackSecrets;
  const created = !existsSync(paths.state);
  if (created) {
    if (existsSync(paths.database)) {
      throw new CommandError(
        `${stack.dataDir} holds a database but no stack-state.json (an interrupted first run?): ` +
          'remove the folder or choose another --data-dir',
      );
    }
    ({ demo, secrets } = await createDemoPrincipals(io, stack));
    const state: StackState = {
      version: 1,
      host: stack.host,
      ports: stack.ports,
      tls: stack.tls,
      ...secrets,
    };
    await writePrivate(paths.demo, json(demo));
    await writePrivate(paths.state, json(state));
  } else {
    const state = await readJson<StackState>(paths.state);
    const samePorts = Object.entries(stack.ports).every(
      ([name, port]) => state.ports[name as keyof StackPorts] === port,
    );
    const stateTls = state.tls === true;
    if (state.host !== stack.host || !samePorts || stateTls !== stack.tls) {
      const issuer = `${stateTls ? 'https' : 'http'}://${state.host}:${state.ports.authServer}`;
      throw new CommandError(
        `${stack.dataDir} was initialised for other addresses (issuer ${issuer}${stateTls ? ', --tls' : ''}); ` +
          'registered redirect URIs and the issuer depend on them: use the same ports and --tls setting, ' +
          'or another --data-dir',
      );
    }
    demo = await readJson<DemoJson>(paths.demo);
    secrets = state;
  }

  const header = '# Generated by `gatehouse init` from the stack file; edit the stack file instead.\n';
  await writePrivate(paths.deployment, header + json(buildStackDeployment(stack, secrets)));
  const serviceConfigFiles = {} as Record<(typeof SERVICE_NAMES)[number], string>;
  for (const name of SERVICE_NAMES) {
    serviceConfigFiles[name] = join(stack.dataDir, `${name}.json`);
    await writePrivate(serviceConfigFiles[name], json(buildServiceConfig(stack, name)));
  }
  return { demo, secrets, deploymentFile: paths.deployment, serviceConfigFiles, created };
}
