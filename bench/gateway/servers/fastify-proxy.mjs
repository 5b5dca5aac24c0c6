/**
 * Contender: `@fastify/http-proxy` with its defaults (undici pool to the upstream), no auth, no
 * logging: the plain Node.js reverse proxy the gateway is compared with. Started by ../run.mjs in
 * its own process with `UPSTREAM_URL`; sends `{ type: 'ready', url }` once it listens.
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { listenForBenchmark } from './fastify-ipc.mjs';

const upstream = process.env['UPSTREAM_URL'];
if (upstream === undefined) throw new Error('UPSTREAM_URL is required');

const app = Fastify({ logger: false });
await app.register(proxy, { upstream, prefix: '/', http2: false });
await listenForBenchmark(app);
