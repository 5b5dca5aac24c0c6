import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Browser,
  clientToken,
  loginThroughBff,
  missingBuild,
  startDemoStack,
  type DemoStack,
} from '../support/demo-stack.js';

/**
 * `gatehouse up --tls`: the same stack with every listener on HTTPS (the development CA), the
 * issuer https, the BFF's cookie `__Host-` and Secure. This suite trusts the development CA the
 * way the printed instructions say (NODE_EXTRA_CA_CERTS, here: the fetch dispatcher).
 */
let stack: DemoStack;
let previous: Dispatcher;
let ca = '';

beforeAll(async () => {
  const missing = missingBuild();
  if (missing.length > 0) throw new Error(`not built: ${missing.join(', ')} (run npm run build)`);
  stack = await startDemoStack({ tls: true });
  ca = readFileSync(join(stack.dataDir, 'pki', 'ca.pem'), 'utf8');
  previous = getGlobalDispatcher();
  setGlobalDispatcher(new Agent({ connect: { ca } }));
}, 120_000);

afterAll(async () => {
  setGlobalDispatcher(previous);
  const started = stack as DemoStack | undefined;
  if (started !== undefined) expect(await started.stop()).toBe(0);
});

describe('gatehouse up --tls', () => {
  it('publishes https URLs and an https issuer', async () => {
    const { demo, portBase } = stack;
    expect([demo.issuer, demo.gateway, demo.bff, demo.admin]).toEqual(
      [0, 1, 2, 3].map((offset) => `https://127.0.0.1:${portBase + offset}`),
    );
    const metadata = (await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      token_endpoint: string;
    };
    expect(metadata.issuer).toBe(demo.issuer);
    expect(metadata.token_endpoint.startsWith('https://')).toBe(true);
  });

  it('serves the API through the gateway over HTTPS (phantom token), with HSTS', async () => {
    const token = await clientToken(stack.demo, 'partner');
    const answer = await fetch(`${stack.demo.gateway}/api/accounts`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('strict-transport-security')).toContain('max-age=');
    expect(await answer.json()).toEqual([]);
  });

  it('logs alice in through the BFF with a __Host- Secure HttpOnly session cookie', async () => {
    const browser = new Browser();
    const landing = await loginThroughBff(browser, stack.demo, stack.demo.users.alice);
    expect(landing.status).toBe(303);
    const cookie = browser.cookie('__Host-bff_session');
    expect(cookie?.attributes).toMatchObject({ secure: true, httponly: true, path: '/' });
    expect(cookie?.attributes).not.toHaveProperty('domain');
    const accounts = await browser.get(`${stack.demo.bff}/api/accounts`);
    expect(accounts.status).toBe(200);
  });

  it.each([
    ['TLS 1.1', { maxVersion: 'TLSv1.1' as const }],
    ['a client that does not trust the development CA', {}],
  ])('refuses %s at the handshake', async (_name, options) => {
    const port = stack.portBase + 1;
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...options }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(outcome).not.toBe('connected');
  });

  it('answers nothing in plain HTTP on an HTTPS port', async () => {
    await expect(fetch(`http://127.0.0.1:${stack.portBase + 1}/public/status`)).rejects.toThrow();
  });

  it('serves the admin entry over HTTPS', async () => {
    expect((await fetch(`${stack.demo.admin}/readyz`)).status).toBe(200);
    const routes = await fetch(`${stack.demo.admin}/admin/gateway/routes`, {
      headers: { authorization: `Bearer ${stack.demo.adminToken}` },
    });
    expect(routes.status).toBe(200);
  });

  it("reports every listener's certificate expiry: the gateway's at /metrics, the auth server's at /metrics/auth-server", async () => {
    const listeners = async (path: string): Promise<string[]> => {
      const text = await (await fetch(`${stack.demo.admin}${path}`)).text();
      return [...text.matchAll(/^gatehouse_tls_certificate_expiry_seconds\{listener="(\w+)"\} \d+$/gm)].map(
        (match) => match[1]!,
      );
    };
    expect((await listeners('/metrics')).sort()).toEqual(['admin', 'gateway']);
    expect((await listeners('/metrics/auth-server')).sort()).toEqual(['admin', 'issuer']);
  });
});
