/**
 * The IPC side of a server child process: announces the listening server to the benchmark, answers
 * its resource-usage queries and mints authorization codes on request. The server runs alone in its
 * process, so the load generator never competes with it for an event loop, and the CPU time read
 * here is the server's only.
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
 * @typedef {object} MintedMessage Answer to `{ type: 'mint', id, count }`.
 * @property {'minted'} type
 * @property {number} id Echo of the request id.
 * @property {import('../fixtures.mjs').MintedCode[]} codes
 * @property {number} ms Wall time the minting took in this process.
 * @property {string} [error] Why minting failed (then `codes` is empty).
 */

/**
 * Mints `count` authorization codes through the server's own code-issuing API, as its
 * authorization endpoint would after a login and consent.
 * @typedef {(count: number) => Promise<import('../fixtures.mjs').MintedCode[]>} MintCodes
 */

/**
 * Sends `ready` to the parent, then serves `stats`, `mint` and `stop` requests until stopped.
 * @param {import('../fixtures.mjs').ReadyMessage} ready
 * @param {() => Promise<void>} close Stops the server (the process exits afterwards, which writes
 *   a `--cpu-prof` profile when the flag is set).
 * @param {() => Record<string, number>} [counters]
 * @param {MintCodes} [mint]
 */
export function serveParent(ready, close, counters = () => ({}), mint = undefined) {
  const send = process.send?.bind(process);
  if (send === undefined)
    throw new Error('start this script through the benchmark (it needs an IPC channel)');
  process.on('message', (/** @type {{ type: string, id?: number, count?: number }} */ message) => {
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
    } else if (message.type === 'mint') {
      const id = message.id ?? 0;
      const started = performance.now();
      /** @param {Omit<MintedMessage, 'type' | 'id' | 'ms'>} result */
      const reply = (result) =>
        send(
          /** @type {MintedMessage} */ ({ type: 'minted', id, ms: performance.now() - started, ...result }),
        );
      if (mint === undefined) {
        reply({ codes: [], error: 'this server mints no codes' });
        return;
      }
      void mint(message.count ?? 0).then(
        (codes) => reply({ codes }),
        (/** @type {unknown} */ err) => reply({ codes: [], error: String(err) }),
      );
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
