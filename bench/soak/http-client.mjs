/**
 * The soak's HTTP client: node:http with keep-alive agents (no dependency, exact timing), one agent
 * per source address so that calls can come from several loopback addresses (127.0.0.N), and a
 * scripted browser with a cookie jar for the BFF's login (redirects followed by hand).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** A request that takes longer than this is a transport error (the stack hangs). */
const TIMEOUT_MS = 30_000;

/**
 * Idle keep-alive connections are closed after this. The servers close theirs after 5 s (Node's
 * default, the gateway's `limits.keepAliveTimeoutMs`), and a server whose event loop lags fires that
 * timer late, after the client has already sent its next request on the connection, which then
 * fails with ECONNRESET (the well-known keep-alive race, which clients answer by retrying). Closing
 * first, with a margin for the lag, keeps that race out of the error count.
 */
const IDLE_MS = 3000;

/**
 * @typedef {object} Answer
 * @property {number} status 0 on a transport error.
 * @property {http.IncomingHttpHeaders} headers
 * @property {string} text
 * @property {number} ms From the request to the end of the body.
 * @property {string} [error] Transport error code or message.
 */

/**
 * @typedef {object} RequestOptions
 * @property {string} url
 * @property {string} [method]
 * @property {Record<string, string>} [headers]
 * @property {string} [body]
 * @property {string} [source] Local address to send from (one of the client's addresses).
 */

/**
 * @param {{ sources: readonly string[] }} options Local addresses besides the default one.
 */
export function createHttpClient(options) {
  const main = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_MS });
  /** @type {Map<string, http.Agent>} */
  const bySource = new Map(
    options.sources.map((address) => [
      address,
      new http.Agent({ keepAlive: true, maxSockets: 8, localAddress: address, timeout: IDLE_MS }),
    ]),
  );

  /**
   * @param {RequestOptions} request
   * @returns {Promise<Answer>}
   */
  function send(request) {
    const started = performance.now();
    const agent = request.source === undefined ? main : bySource.get(request.source);
    if (agent === undefined) throw new Error(`unknown source address ${String(request.source)}`);
    const headers = { ...request.headers };
    if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
    return new Promise((resolve) => {
      const req = http.request(request.url, { method: request.method ?? 'GET', headers, agent }, (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', (err) => fail(err));
      });
      /** @param {Error & { code?: string }} err */
      const fail = (err) =>
        resolve({
          status: 0,
          headers: {},
          text: '',
          ms: performance.now() - started,
          error: err.code ?? err.message,
        });
      req.setTimeout(TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', fail);
      req.end(request.body);
    });
  }

  return {
    send,
    close() {
      main.destroy();
      for (const agent of bySource.values()) agent.destroy();
    },
  };
}

/** @typedef {ReturnType<typeof createHttpClient>} HttpClient */

/**
 * A page as the scripted browser sees it.
 * @typedef {Answer & { location: string | undefined }} Page
 */

/**
 * A browser without JavaScript: one cookie jar for every port of 127.0.0.1 (browsers key cookies
 * by host, not port, so the auth server's and the BFF's cookies live side by side, as in Chromium),
 * redirects never followed automatically.
 */
export class Browser {
  /** @type {Map<string, string>} */
  #cookies = new Map();
  /** @type {(request: RequestOptions) => Promise<Answer>} */
  #send;

  /** @param {(request: RequestOptions) => Promise<Answer>} send */
  constructor(send) {
    this.#send = send;
  }

  /** Forgets every cookie (a new browser profile). */
  clear() {
    this.#cookies.clear();
  }

  /**
   * @param {RequestOptions} request
   * @returns {Promise<Page>}
   */
  async request(request) {
    const headers = { ...request.headers };
    if (this.#cookies.size > 0)
      headers['cookie'] = [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const answer = await this.#send({ ...request, headers });
    for (const line of answer.headers['set-cookie'] ?? []) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
    const location = answer.headers.location;
    return { ...answer, location: location === undefined ? undefined : new URL(location, request.url).href };
  }
}

/**
 * The first form of an HTML page: its action, hidden inputs, input names and named buttons.
 * @param {string} html
 * @returns {{ action: string, hidden: Record<string, string>, inputs: string[], buttons: string[] } | undefined}
 */
export function parseForm(html) {
  const form = /(<form\b[^>]*>)([\s\S]*?)<\/form>/i.exec(html);
  if (form === null) return undefined;
  const [, open = '', body = ''] = form;
  /** @type {Record<string, string>} */
  const hidden = {};
  /** @type {string[]} */
  const inputs = [];
  for (const [tag] of body.matchAll(/<input\b[^>]*>/gi)) {
    const name = attribute(tag, 'name');
    if (name === undefined) continue;
    inputs.push(name);
    if (attribute(tag, 'type') === 'hidden') hidden[name] = attribute(tag, 'value') ?? '';
  }
  const buttons = [...body.matchAll(/<button\b[^>]*>/gi)].flatMap(([tag]) => {
    const name = attribute(tag, 'name');
    return name === undefined ? [] : [`${name}=${attribute(tag, 'value') ?? ''}`];
  });
  return { action: decodeEntities(attribute(open, 'action') ?? ''), hidden, inputs, buttons };
}

/**
 * @param {string} tag
 * @param {string} name
 * @returns {string | undefined}
 */
function attribute(tag, name) {
  const match = new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i').exec(tag);
  if (match === null) return undefined;
  return decodeEntities(match[1] ?? match[2] ?? match[3] ?? '');
}

/**
 * @param {string} text
 * @returns {string}
 */
function decodeEntities(text) {
  return text
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}
