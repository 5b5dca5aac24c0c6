/**
 * The IPC side of a fastify contender: listens on a free loopback port, sends `{ type: 'ready', url }`
 * to ../run.mjs, and exits when asked to stop or when the benchmark goes away.
 * @param {import('fastify').FastifyInstance} app
 */
export async function listenForBenchmark(app) {
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ type: 'ready', url });
  process.on('message', (/** @type {{ type: string }} */ message) => {
    if (message.type === 'stop') void app.close().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}
