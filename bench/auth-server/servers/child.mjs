/**
 * The IPC side of a server child process: announces the listening server to the benchmark and
 * answers its resource-usage queries. The server runs alone in its process, so the load generator
 * never competes with it for an event loop, and the CPU time read here is the server's only.
 */

/**
 * @typedef {object} StatsMessage
 * @property {'stats'} type
 * @property {number} id Echo of the request id.
 * @property {number} cpuUserUs process.cpuUsage().user
 * @property {number} cpuSystemUs process.cpuUsage().system
 * @property {number} rssBytes Current resident set size.
 * @property {number} maxRssBytes Peak resident set size of the process so far.
 * @property {Record<string, number>} counters Contender-specific counters (e.g. audit events).
 */

/**
 * Sends `ready` to the parent, then serves `stats` and `stop` requests until stopped.
 * @param {import('../fixtures.mjs').ReadyMessage} ready
 * @param {() => Promise<void>} close Stops the server (the process exits afterwards, which writes
 *   a `--cpu-prof` profile when the flag is set).
 * @param {() => Record<string, number>} [counters]
 */
export function serveParent(ready, close, counters = () => ({})) {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new Error('start this script through the benchmark (it needs an IPC channel)');
  process.on('message', (/** @type {{ type: string, id?: number }} */ message) => {
    if (message.type === 'stats') {
      const cpu = process.cpuUsage();
      /** @type {StatsMessage} */
      const stats = {
        type: 'stats',
        id: message.id ?? 0,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        rssBytes: process.memoryUsage.rss(),
        // maxRSS is in kibibytes (getrusage).
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
        counters: counters(),
      };
      send(stats);
    } else if (message.type === 'stop') {
      void close().then(
        () => process.exit(0),
        (/** @type {unknown} */ err) => {
          process.stderr.write(`close failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
    }
  });
  // The parent dying must not leave a server behind.
  process.on('disconnect', () => process.exit(0));
  send(ready);
}
