import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

/** The console's files: the page, its two modules, its stylesheet and icon (nothing else is served). */
const ASSETS: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'metrics-text.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

/**
 * Only this origin's own files and API; no framing (CSP frame-ancestors, and X-Frame-Options for
 * older browsers: clickjacking of the "lift" button), no referrer, no form posts.
 */
const HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

/**
 * The folder of the files: beside this module when run from source, `src/admin/console` of the
 * package when run from `dist` (tsc copies no assets; the package ships that folder).
 */
function assetFolder(): string {
  const beside = fileURLToPath(new URL('.', import.meta.url));
  if (existsSync(`${beside}index.html`)) return beside;
  return fileURLToPath(new URL('../../../src/admin/console/', import.meta.url));
}

/**
 * `GET /admin/console` and its files, without the admin token: static code holding no data. The
 * page asks for the token and calls the admin API with it. Read once, served from memory.
 */
export function registerConsoleRoutes(app: FastifyInstance): void {
  const folder = assetFolder();
  for (const [name, type] of Object.entries(ASSETS)) {
    const body = readFileSync(`${folder}${name}`);
    const urls = name === 'index.html' ? ['/admin/console', '/admin/console/'] : [`/admin/console/${name}`];
    for (const url of urls) {
      app.get(url, (_request, reply) => reply.headers({ ...HEADERS, 'content-type': type }).send(body));
    }
  }
}
