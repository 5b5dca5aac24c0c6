#!/usr/bin/env node
// `npm start`: will run `gatehouse up` on examples/demo/gatehouse.yaml once the stack exists.
// Until then it says plainly what is available in this checkout, so nobody mistakes it for a demo.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const has = (path) => existsSync(new URL(`../${path}`, import.meta.url));

const components = [
  ['@gatehouse/core', 'packages/core', 'errors, RFC 6750/9457 responses, audit event type, redacting logger'],
  ['@gatehouse/guard', 'packages/guard', 'token validation, scopes, object-level authorization, DPoP, mTLS'],
  ['@gatehouse/auth-server', 'packages/auth-server', 'OAuth 2.1 / OpenID Connect server'],
  ['@gatehouse/gateway', 'packages/gateway', 'the single hardened entry point'],
  ['@gatehouse/bff', 'packages/bff', 'Backend-for-Frontend: sessions, HttpOnly cookies'],
  ['gatehouse (cli)', 'packages/cli', 'each component alone and the operations commands'],
  ['demo services', 'examples/accounts', 'accounts and orders behind mTLS (examples/)'],
  ['demo stack', 'examples/demo/gatehouse.yaml', '`gatehouse up` with the single-page app'],
];

const lines = components.map(([name, path, what]) => `  ${has(path) ? '✔' : '·'} ${name.padEnd(24)} ${what}`);
process.stdout.write(
  [
    `Gatehouse — ${root}`,
    '',
    'The demo stack (`gatehouse up`: auth server :4000, gateway :8080, BFF :3000, admin :9090) is not built yet.',
    'Components in this checkout (✔ available, · not yet):',
    ...lines,
    '',
    'What you can run today:',
    '  npx gatehouse --help      the CLI: auth-server, gateway, clients, users, keys, bans, config',
    '  npm test                  typecheck and every test suite (skips are listed with their reason)',
    '  npm run bench             side-by-side benchmarks (guard vs jose, auth server vs oidc-provider,',
    '                            gateway vs nginx and @fastify/http-proxy)',
    '  npm run lint              ESLint (type-aware) and Prettier',
    '',
    'Docs: README.md, docs/architecture.md, docs/security-model.md, docs/configuration.md, packages/*/README.md',
    '',
  ].join('\n'),
);
