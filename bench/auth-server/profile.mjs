/**
 * Summary of a V8 CPU profile (`node --cpu-prof`): where a server process spent its time, by
 * function (self and inclusive time), by code area (package, Node internals, GC) and by kind of work
 * (SQL, signing, socket writes, framework...). Idle time is left out, so percentages are shares of
 * the time the main thread was busy (blocking system calls included; work on libuv's thread pool,
 * such as WebCrypto signing, is not in the profile).
 */
import { readFile } from 'node:fs/promises';
import { fmt, textTable } from '../lib/report.mjs';

/**
 * @typedef {object} ProfileNode
 * @property {number} id
 * @property {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} callFrame
 * @property {number[]} [children]
 */

/**
 * @typedef {object} FunctionTime
 * @property {string} name Function name (or `(anonymous)`), then `area file:line`.
 * @property {string} area
 * @property {number} selfMs
 * @property {number} selfPct Share of the busy time.
 * @property {number} totalMs Time with the function anywhere on the stack.
 * @property {number} totalPct
 */

/**
 * The code area of a script URL: an npm package, a workspace package, Node internals or a V8 pseudo
 * node such as `(garbage collector)`.
 * @param {string} url
 * @param {string} functionName
 * @returns {string}
 */
export function areaOf(url, functionName) {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    const name = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? '');
    return name;
  }
  const workspace = /\/packages\/([^/]+)\//.exec(url);
  if (workspace !== null) return `@gatehouse/${workspace[1] ?? ''}`;
  if (url.includes('/bench/')) return 'bench';
  return url;
}

/**
 * @param {string} url
 * @returns {string}
 */
function shortFile(url) {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules !== -1) return url.slice(modules + '/node_modules/'.length);
  const packages = url.lastIndexOf('/packages/');
  if (packages !== -1) return url.slice(packages + '/packages/'.length);
  return url.replace(/^file:\/\//, '');
}

/**
 * Where a sample's self time belongs, from its leaf frame (first match wins). Native calls made
 * from JavaScript are counted in the calling function's self time, so better-sqlite3's native
 * statement execution shows up as kysely's `executeQuery`, and blocking file I/O done there
 * (WAL writes, checkpoints) with it.
 * @type {ReadonlyArray<readonly [string, (name: string, url: string) => boolean]>}
 */
const CATEGORIES = [
  [
    'SQLite: statement execution (better-sqlite3 run/all, incl. file I/O)',
    (name, url) => name === 'executeQuery' && url.includes('/sqlite-driver'),
  ],
  ['SQLite: statement prepare (better-sqlite3 prepare)', (_name, url) => url.includes('/better-sqlite3/')],
  ['kysely: query building and compiling', (_name, url) => url.includes('/kysely/')],
  [
    'signing: node:crypto sign (synchronous, or its hand-over to the thread pool)',
    (name) => name === 'signOneShot',
  ],
  [
    'jose + WebCrypto (signing, JWT header decoding)',
    (_name, url) =>
      url.includes('/jose/') || /^node:internal\/crypto\/(webcrypto|util|ec|webidl|keys)/.test(url),
  ],
  [
    'socket writes (writev)',
    (name, url) =>
      ['writev', 'writeUtf8String', 'writeBuffer', 'writevGeneric', 'createWriteWrap'].includes(name) ||
      url.includes('stream_base_commons'),
  ],
  ['garbage collector', (name) => name === '(garbage collector)'],
  ['node:http (parser, server)', (name, url) => url.includes('_http_') || name.startsWith('parserOn')],
  [
    'framework: fastify',
    (_name, url) =>
      /\/node_modules\/(fastify|@fastify\/|find-my-way|toad-cache|avvio|fast-json-stringify|secure-json-parse|fast-querystring|light-my-request|rfdc|process-warning)/.test(
        url,
      ),
  ],
  [
    'framework: koa + oidc-provider',
    (_name, url) =>
      /\/node_modules\/(oidc-provider|koa|@koa\/|delegates|on-finished|type-is|vary|ee-first|mime|statuses|http-errors|accepts|negotiator|cookies|keygrip|depd|encodeurl|escape-html|fresh|parseurl|only|destroy|debug|content-type|raw-body|quick-lru|eta)/.test(
        url,
      ),
  ],
  ['@gatehouse/* code', (_name, url) => /\/packages\/[^/]+\/dist\//.test(url)],
  ['logging and validation (pino, zod)', (_name, url) => /\/node_modules\/(pino|zod|sonic-boom)/.test(url)],
  [
    'promises, async hooks, microtasks',
    (name, url) =>
      name === 'runMicrotasks' ||
      url.includes('async_hooks') ||
      url.includes('task_queues') ||
      url.includes('promise'),
  ],
  ['random bytes', (name) => name === 'randomFillSync' || name === 'randomBytes'],
  [
    'startup (module loading)',
    (name, url) =>
      url.includes('internal/modules/') ||
      [
        'wrapSafe',
        'compileSourceTextModule',
        'internalModuleStat',
        'openFileHandle',
        'readFileUtf8',
      ].includes(name),
  ],
  ['(program)', (name) => name === '(program)'],
];

/**
 * Reads a .cpuprofile and returns the busy time, the top functions by self and by inclusive time,
 * and the time per area.
 * @param {string} file
 * @param {{ top?: number }} [options]
 */
export async function summarizeProfile(file, options = {}) {
  const top = options.top ?? 15;
  const profile = /** @type {{ nodes: ProfileNode[], samples: number[], timeDeltas: number[] }} */ (
    JSON.parse(await readFile(file, 'utf8'))
  );
  /** @type {Map<number, ProfileNode>} */
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  /** @param {ProfileNode} node */
  const keyOf = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const where = url === '' ? '' : ` ${shortFile(url)}:${lineNumber + 1}`;
    return { key: `${name}${where}`, area: areaOf(url, functionName) };
  };

  /** @type {Map<string, { area: string, selfUs: number, totalUs: number }>} */
  const functions = new Map();
  /** @type {Map<string, number>} */
  const areas = new Map();
  /** @type {Map<string, number>} */
  const categories = new Map();
  let busyUs = 0;
  let idleUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] ?? -1);
    // A sample's delta is the time since the previous sample: attribute it to this sample's stack.
    const us = profile.timeDeltas[i] ?? 0;
    if (node === undefined) continue;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const self = keyOf(node);
    const entry = functions.get(self.key) ?? { area: self.area, selfUs: 0, totalUs: 0 };
    entry.selfUs += us;
    functions.set(self.key, entry);
    areas.set(self.area, (areas.get(self.area) ?? 0) + us);
    const { functionName, url } = node.callFrame;
    const category = CATEGORIES.find(([, test]) => test(functionName, url))?.[0] ?? 'other';
    categories.set(category, (categories.get(category) ?? 0) + us);
    // Inclusive time: every distinct function on the stack once.
    const seen = new Set();
    for (let id = /** @type {number | undefined} */ (node.id); id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id);
      if (frame === undefined) break;
      const { key, area } = keyOf(frame);
      if (seen.has(key)) continue;
      seen.add(key);
      const e = functions.get(key) ?? { area, selfUs: 0, totalUs: 0 };
      e.totalUs += us;
      functions.set(key, e);
    }
  }
  const pct = (/** @type {number} */ us) => (busyUs === 0 ? 0 : (us / busyUs) * 100);
  /** @type {FunctionTime[]} */
  const all = [...functions.entries()]
    .filter(([key]) => key !== '(root)')
    .map(([name, e]) => ({
      name,
      area: e.area,
      selfMs: e.selfUs / 1000,
      selfPct: pct(e.selfUs),
      totalMs: e.totalUs / 1000,
      totalPct: pct(e.totalUs),
    }));
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    bySelf: [...all].sort((a, b) => b.selfMs - a.selfMs).slice(0, top),
    byTotal: [...all]
      .filter((f) => !f.name.startsWith('('))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top),
    byArea: [...areas.entries()]
      .map(([area, us]) => ({ area, ms: us / 1000, pct: pct(us) }))
      .sort((a, b) => b.ms - a.ms),
    byCategory: [...categories.entries()]
      .map(([category, us]) => ({ category, ms: us / 1000, pct: pct(us) }))
      .sort((a, b) => b.ms - a.ms),
  };
}

/**
 * The text tables every benchmark prints for a profiled contender: self time by area, then the top
 * functions by self and by inclusive time.
 * @param {Awaited<ReturnType<typeof summarizeProfile>>} summary
 * @returns {string[]}
 */
export function profileTables(summary) {
  return [
    'By area (self time):',
    textTable(
      [{ title: 'Area' }, { title: 'Self ms', align: 'right' }, { title: '%', align: 'right' }],
      summary.byArea.slice(0, 12).map((a) => [a.area, fmt(a.ms), fmt(a.pct, 1)]),
    ),
    'Top functions by self time:',
    textTable(
      [{ title: 'Function' }, { title: 'Self %', align: 'right' }, { title: 'Total %', align: 'right' }],
      summary.bySelf.map((f) => [f.name, fmt(f.selfPct, 1), fmt(f.totalPct, 1)]),
    ),
    'Top functions by inclusive time:',
    textTable(
      [{ title: 'Function' }, { title: 'Total %', align: 'right' }, { title: 'Self %', align: 'right' }],
      summary.byTotal.map((f) => [f.name, fmt(f.totalPct, 1), fmt(f.selfPct, 1)]),
    ),
  ];
}
