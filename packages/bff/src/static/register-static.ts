import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from '../errors.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

/**
 * GET/HEAD of the single-page app's files. The decoded path must stay inside the folder (no
 * `..`, no encoded separators escaping it, no NUL); `/` and folders serve their `index.html`;
 * anything else is 404. Unknown extensions are sent as octet-stream (with nosniff set globally).
 */
export function registerStatic(app: FastifyInstance, folder: string): void {
  const root = resolve(folder);

  app.route({
    method: ['GET', 'HEAD'],
    url: '/*',
    async handler(request, reply) {
      const pathname = request.url.split('?')[0] ?? '/';
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathname);
      } catch {
        return sendProblem(reply, 'ERR_BFF_NOT_FOUND');
      }
      if (decoded.includes('\0') || decoded.includes('\\')) return sendProblem(reply, 'ERR_BFF_NOT_FOUND');
      let file = resolve(root, `.${decoded}`);
      if (file !== root && !file.startsWith(root + sep)) return sendProblem(reply, 'ERR_BFF_NOT_FOUND');
      try {
        if ((await stat(file)).isDirectory()) file = resolve(file, 'index.html');
        const body = await readFile(file);
        return await reply
          .header('content-type', CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream')
          .header('cache-control', 'no-cache')
          .send(body);
      } catch {
        return sendProblem(reply, 'ERR_BFF_NOT_FOUND');
      }
    },
  });
}
