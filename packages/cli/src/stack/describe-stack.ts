import { join } from 'node:path';
import { formatTable } from '../io.js';
import type { InitializedStack } from './init-stack.js';
import type { Stack } from './load-stack.js';

/** The short table `gatehouse up` and `init` print: where everything is and how to log in (no secret). */
export function describeStack(stack: Stack, init: InitializedStack): string {
  const demoFile = join(stack.dataDir, 'demo.json');
  const { ports, host } = stack;
  const rows = [
    ['demo app (BFF)', stack.urls.bff, 'log in as alice, bob or admin'],
    ['API gateway', stack.urls.gateway, 'try GET /public/status'],
    ['auth server', stack.urls.issuer, 'the issuer (/.well-known/openid-configuration)'],
    ['admin, metrics', stack.urls.admin, 'Authorization: Bearer <adminToken>'],
    [
      'accounts, orders',
      `https://${host}:${ports.accounts}, :${ports.orders}`,
      "mTLS: the gateway's certificate only",
    ],
  ];
  return [
    formatTable(['component', 'URL', ''], rows),
    '',
    `Passwords, client secrets and the admin token are random for this data dir: ${demoFile}`,
    `  e.g. the password of alice:  node -p "require('${demoFile}').users.alice.password"`,
    init.created ? `  (created now; later runs reuse them)` : `  (reused from the first run)`,
    ...(stack.tls
      ? [
          '',
          `HTTPS with the development CA ${join(stack.dataDir, 'pki', 'ca.pem')}; to trust it:`,
          `  curl --cacert ${join(stack.dataDir, 'pki', 'ca.pem')} ${stack.urls.gateway}/public/status`,
          `  NODE_EXTRA_CA_CERTS=${join(stack.dataDir, 'pki', 'ca.pem')} node …`,
          '  browsers: import it as a trusted authority (development machines only), or expect a warning',
        ]
      : []),
  ].join('\n');
}
