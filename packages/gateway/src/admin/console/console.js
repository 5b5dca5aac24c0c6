/* global document, Node */
/**
 * The gateway admin console. The admin token lives in one variable of this module (never in
 * storage, a cookie or the URL) and is sent as a bearer token to the admin API on this origin;
 * every value from an answer is written with textContent, never parsed as HTML.
 */
import { computeRate, sumRequests } from './metrics-text.js';

const METRICS_EVERY_MS = 3_000;
const PANELS_EVERY_MS = 5_000;
/** Keys and the audit chain: each read is audited (and a verification walks the chain). */
const SLOW_EVERY_MS = 60_000;
const CHART_WINDOW_MS = 5 * 60_000;
const MIN_SPAN_MS = 30_000;
const SVG = 'http://www.w3.org/2000/svg';
const RETRYING = 'The admin listener did not answer; retrying.';

/** @type {string | undefined} the admin token: this page's memory only */
let token;
/** Bumped on sign-out: answers to requests of an earlier session are dropped. */
let session = 0;
/** @type {ReturnType<typeof setInterval>[]} */
let timers = [];
/** @type {import('./metrics-text.js').RequestTotals | undefined} */
let lastTotals;
/** @type {import('./metrics-text.js').RequestRate[]} */
let rates = [];
/** The ban whose lift waits for confirmation. */
let confirming;
/** The bans last read (the confirmation step redraws them without asking again). */
let bans = [];

const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

class Stale extends Error {}

function say(text, kind = 'info') {
  const message = byId('message');
  message.textContent = text;
  message.dataset['kind'] = text === '' ? '' : kind;
}

/** A request to the admin API of this origin with the token; a 401 ends the session. */
async function call(path, init = {}) {
  const mine = session;
  const response = await fetch(path, {
    ...init,
    headers: { authorization: `Bearer ${token ?? ''}`, accept: 'application/json' },
    cache: 'no-store',
    credentials: 'omit',
    redirect: 'error',
  });
  if (mine !== session) throw new Stale();
  if (response.status === 401) {
    signOut('The admin token was refused: sign in again.', 'error');
    throw new Stale();
  }
  return response;
}

async function getJson(path) {
  const response = await call(path);
  if (!response.ok) return { status: response.status, body: undefined };
  return { status: response.status, body: await response.json() };
}

function cell(content, className) {
  const td = document.createElement('td');
  if (className !== undefined) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

function row(cells, attributes = {}) {
  const tr = document.createElement('tr');
  for (const [name, value] of Object.entries(attributes)) tr.setAttribute(name, value);
  tr.append(...cells);
  return tr;
}

function fill(tbodyId, emptyId, rows, emptyText) {
  byId(tbodyId).replaceChildren(...rows);
  const empty = byId(emptyId);
  if (emptyText !== undefined) empty.textContent = emptyText;
  empty.hidden = rows.length > 0;
}

function badge(text, tone) {
  const span = document.createElement('span');
  span.className = `badge badge--${tone}`;
  span.textContent = text;
  return span;
}

function time(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return '–';
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

function number(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return Math.abs(value) >= 100 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(2);
}

function percent(value) {
  return `${(value * 100).toFixed(1)} %`;
}

// ---- Charts -------------------------------------------------------------------------------

/** The time the charts span: what was sampled so far, from 30 s up to the last 5 minutes. */
function chartSpan(now) {
  const first = rates[0];
  const sampled = first === undefined ? 0 : now - first.time;
  return Math.min(CHART_WINDOW_MS, Math.max(MIN_SPAN_MS, sampled));
}

function spanLabel(ms) {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min ago` : `${Math.round(ms / 1000)} s ago`;
}

function polyline(values, max, span, now, className) {
  const line = document.createElementNS(SVG, 'polyline');
  const points = values.map(([at, value]) => {
    const x = 300 - ((now - at) / span) * 300;
    const y = 98 - (max === 0 ? 0 : (value / max) * 94);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  line.setAttribute('points', points.join(' '));
  line.setAttribute('class', className);
  return line;
}

function drawChart(id, series, max, span, now) {
  const svg = byId(id);
  const title = svg.querySelector('title');
  const lines = series
    .filter(([values]) => values.length > 1)
    .map(([values, className]) => polyline(values, max, span, now, className));
  svg.replaceChildren(...(title === null ? [] : [title]), ...lines);
}

function drawRates() {
  const latest = rates.at(-1);
  const now = latest?.time ?? Date.now();
  const span = chartSpan(now);
  byId('rate-now').textContent = latest === undefined ? '–' : number(latest.rate);
  byId('ratio-5xx').textContent = latest === undefined ? '–' : percent(latest.serverErrorRatio);
  byId('ratio-4xx').textContent = latest === undefined ? '–' : percent(latest.clientErrorRatio);
  byId('rate-span').textContent = spanLabel(span);
  byId('errors-span').textContent = spanLabel(span);
  const max = Math.max(1, ...rates.map((r) => r.rate));
  byId('rate-max').textContent = number(max);
  drawChart('rate-chart', [[rates.map((r) => [r.time, r.rate]), 'line line--rate']], max, span, now);
  drawChart(
    'errors-chart',
    [
      [rates.map((r) => [r.time, r.clientErrorRatio]), 'line line--4xx'],
      [rates.map((r) => [r.time, r.serverErrorRatio]), 'line line--5xx'],
    ],
    1,
    span,
    now,
  );
}

async function pollMetrics() {
  // Prometheus text: no token needed, but only read while signed in.
  const mine = session;
  const response = await fetch('/metrics', { cache: 'no-store', credentials: 'omit', redirect: 'error' });
  const text = await response.text();
  if (mine !== session || !response.ok) return;
  const totals = sumRequests(text, Date.now());
  if (lastTotals !== undefined) {
    const rate = computeRate(lastTotals, totals);
    if (rate !== undefined) rates.push(rate);
  }
  lastTotals = totals;
  if (byId('message').textContent === RETRYING) say('');
  rates = rates.filter((r) => totals.time - r.time <= CHART_WINDOW_MS);
  drawRates();
}

// ---- Panels -------------------------------------------------------------------------------

/** What a top client is: a client id, an IPv4 address, or an IPv6 network (a CIDR block). */
function clientKind(client) {
  if (client.kind === 'client_id') return 'client id';
  return client.id.includes('/') ? 'IPv6 network' : 'IP';
}

async function loadClients() {
  const { body } = await getJson('/admin/gateway/top-clients?limit=10');
  const clients = body?.clients ?? [];
  fill(
    'clients',
    'clients-empty',
    clients.map((client) =>
      row(
        [
          cell(client.id, 'mono'),
          cell(clientKind(client)),
          cell(number(client.requests), 'num'),
          cell(number(client.errors), 'num'),
        ],
        { 'data-client': client.id },
      ),
    ),
  );
}

function liftControls(subject) {
  const box = document.createElement('span');
  box.className = 'actions';
  if (confirming !== subject) {
    const lift = document.createElement('button');
    lift.type = 'button';
    lift.className = 'button button--small';
    lift.dataset['action'] = 'lift';
    lift.textContent = 'Lift';
    lift.addEventListener('click', () => {
      confirming = subject;
      renderBans();
    });
    box.append(lift);
    return box;
  }
  const confirm = document.createElement('button');
  confirm.type = 'button';
  confirm.className = 'button button--small button--danger';
  confirm.dataset['action'] = 'confirm-lift';
  confirm.textContent = 'Confirm lift';
  confirm.addEventListener('click', () => void liftBan(subject).catch(report));
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.className = 'button button--small button--ghost';
  cancel.dataset['action'] = 'cancel-lift';
  cancel.textContent = 'Cancel';
  cancel.addEventListener('click', () => {
    confirming = undefined;
    renderBans();
  });
  box.append(confirm, cancel);
  return box;
}

async function loadBans() {
  const { body } = await getJson('/admin/gateway/bans');
  bans = body?.bans ?? [];
  renderBans();
}

function renderBans() {
  fill(
    'bans',
    'bans-empty',
    bans.map((ban) =>
      row(
        [
          cell(ban.subject, 'mono'),
          cell(ban.reason),
          cell(ban.source),
          cell(time(ban.expiresAt)),
          cell(liftControls(ban.subject), 'actions-cell'),
        ],
        { 'data-ban': ban.subject },
      ),
    ),
  );
}

async function liftBan(subject) {
  const response = await call(`/admin/gateway/bans/${encodeURIComponent(subject)}`, { method: 'DELETE' });
  confirming = undefined;
  if (response.status === 204) say(`The ban on ${subject} was lifted.`, 'success');
  else if (response.status === 404) say(`${subject} was no longer banned.`, 'info');
  else say(`Lifting the ban on ${subject} failed (HTTP ${response.status}).`, 'error');
  await loadBans();
}

async function loadAlerts() {
  const { body } = await getJson('/admin/gateway/alerts');
  const alerts = [...(body?.firing ?? []), ...(body?.recent ?? [])].slice(0, 20);
  fill(
    'alerts',
    'alerts-empty',
    alerts.map((alert) =>
      row(
        [
          cell(alert.key === undefined ? alert.rule : `${alert.rule} (${alert.key})`),
          cell(badge(alert.severity, alert.severity === 'critical' ? 'bad' : 'warn')),
          cell(badge(alert.status, alert.status === 'firing' ? 'bad' : 'ok')),
          cell(time(alert.firedAt)),
          cell(`${number(alert.value)} / ${number(alert.threshold)}`, 'num'),
        ],
        { 'data-alert': alert.id },
      ),
    ),
  );
}

async function loadDetections() {
  const { body } = await getJson('/admin/gateway/detections');
  const detections = (body?.detections ?? []).slice(0, 20);
  fill(
    'detections',
    'detections-empty',
    detections.map((detection) =>
      row([
        cell(time(detection.time)),
        cell(`${detection.detector} · ${detection.trigger}`),
        cell(detection.key, 'mono'),
        cell(`${number(detection.count)} / ${number(detection.threshold)}`, 'num'),
      ]),
    ),
  );
}

const KEY_TONES = { active: 'ok', pending: 'info', retiring: 'warn', retired: 'muted', revoked: 'bad' };

async function loadKeys() {
  const { status, body } = await getJson('/admin/keys');
  if (status === 404) {
    fill('keys', 'keys-status', [], 'Not available on this listener.');
    return;
  }
  if (body === undefined) {
    fill('keys', 'keys-status', [], `Not available (HTTP ${status}).`);
    return;
  }
  fill(
    'keys',
    'keys-status',
    (body.keys ?? []).map((key) =>
      row(
        [
          cell(key.kid, 'mono'),
          cell(key.alg),
          cell(badge(key.status, KEY_TONES[key.status] ?? 'muted')),
          cell(key.rotates_at === null ? '–' : time(key.rotates_at)),
        ],
        { 'data-kid': key.kid },
      ),
    ),
    'No signing key.',
  );
}

async function loadAudit() {
  const status = byId('audit-status');
  const detail = byId('audit-detail');
  const answer = await getJson('/admin/audit/verify');
  const result = answer.body;
  if (answer.status === 404 || result === undefined) {
    status.replaceChildren(badge('not available', 'muted'));
    detail.textContent =
      answer.status === 404 ? 'This listener has no audit verification.' : `HTTP ${answer.status}.`;
    return;
  }
  if (result.ok === true) {
    status.replaceChildren(badge('intact', 'ok'));
    detail.textContent = `${number(result.checked)} records checked.`;
    return;
  }
  status.replaceChildren(badge('broken', 'bad'));
  const problem = result.firstProblem;
  detail.textContent =
    problem === undefined
      ? `${number(result.checked)} records checked before the problem.`
      : `First problem at record ${number(problem.seq)} (${problem.kind}): ${problem.detail ?? ''}`;
}

function report(err) {
  if (err instanceof Stale) return;
  say(RETRYING, 'error');
}

function refreshPanels() {
  for (const load of [loadClients, loadBans, loadAlerts, loadDetections]) void load().catch(report);
}

function refreshSlow() {
  for (const load of [loadKeys, loadAudit]) void load().catch(report);
}

// ---- Session ------------------------------------------------------------------------------

function clearPanels() {
  for (const id of ['clients', 'bans', 'alerts', 'detections', 'keys']) byId(id).replaceChildren();
  for (const id of ['clients-empty', 'bans-empty', 'alerts-empty', 'detections-empty'])
    byId(id).hidden = false;
  byId('keys-status').textContent = '';
  byId('audit-status').replaceChildren('–');
  byId('audit-detail').textContent = '';
  rates = [];
  lastTotals = undefined;
  confirming = undefined;
  bans = [];
  drawRates();
}

function show(signedIn) {
  document.body.dataset['view'] = signedIn ? 'signed-in' : 'signed-out';
  byId('dashboard').hidden = !signedIn;
  byId('sign-in').hidden = signedIn;
  byId('sign-out').hidden = !signedIn;
  byId('live').hidden = !signedIn;
}

function signOut(text = 'Signed out: the token is forgotten.', kind = 'info') {
  token = undefined;
  session++;
  for (const timer of timers) clearInterval(timer);
  timers = [];
  clearPanels();
  show(false);
  say(text, kind);
  byId('token').focus();
}

async function signIn(candidate) {
  token = candidate;
  const mine = ++session;
  let response;
  try {
    response = await fetch('/admin/gateway/health', {
      headers: { authorization: `Bearer ${candidate}`, accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
    });
  } catch {
    response = undefined;
  }
  if (mine !== session) return;
  if (response?.status !== 200) {
    token = undefined;
    session++;
    say(
      response === undefined
        ? 'The admin listener did not answer.'
        : response.status === 401
          ? 'Wrong admin token.'
          : response.status === 503
            ? 'The admin API is disabled here: no admin token is configured.'
            : `The admin API answered HTTP ${response.status}.`,
      'error',
    );
    return;
  }
  say('');
  show(true);
  void pollMetrics().catch(report);
  refreshPanels();
  refreshSlow();
  timers = [
    setInterval(() => void pollMetrics().catch(report), METRICS_EVERY_MS),
    setInterval(refreshPanels, PANELS_EVERY_MS),
    setInterval(refreshSlow, SLOW_EVERY_MS),
  ];
}

byId('sign-in').addEventListener('submit', (event) => {
  // The CSP forbids form submission (form-action 'none'): the form is read here, never sent.
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId('token'));
  const candidate = input.value;
  input.value = '';
  if (candidate !== '') void signIn(candidate);
});
byId('sign-out').addEventListener('click', () => signOut());
byId('refresh-slow').addEventListener('click', refreshSlow);
show(false);
drawRates();
