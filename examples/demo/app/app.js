/**
 * The Gatehouse demo single-page app, served as static files by the BFF (@gatehouse/bff).
 *
 * It never sees a token (OAuth 2.0 for Browser-Based Applications §6.1, the BFF pattern): the
 * browser holds only the BFF's HttpOnly session cookie, and every call below is same-origin with
 * `credentials: 'same-origin'`. State-changing calls carry `X-CSRF: 1`, which the BFF requires
 * together with an allowed `Origin` (OWASP CSRF Prevention Cheat Sheet). The BFF's CSP forbids
 * inline script and style, so this file only toggles classes and the `hidden` attribute, and
 * renders data with textContent / createElement (never innerHTML).
 *
 * Element contract (stable hooks for the browser tests and the README):
 *   body[data-view]            "loading" | "logged-out" | "logged-in"
 *   #message                   status line (role=status, aria-live); [data-kind="error"|"success"]
 *   Logged out — #logged-out:
 *     #login                   "Log in" button → /auth/login?returnTo=/
 *   Logged in — #logged-in:
 *     #user-box                header box; #user-name (name, or sub), #user-sub (sub), #logout button
 *     #session-expiry          when the session ends
 *     #accounts                table; aria-busy="false" once loaded; tbody rows tr[data-account-id]
 *                              (cells: id, nickname [data-field="nickname"], balance [data-field="balance"]);
 *                              an empty list shows one tr.empty row
 *       [data-testid="rename-account"]       per-row button opening the rename form
 *       [data-testid="rename-account-form"]  per-row form: input name="nickname", submit "Save",
 *                                            [data-testid="rename-cancel"]; PATCH /api/accounts/{id}
 *     #create-account-form     input name="nickname"; POST /api/accounts
 *     #orders                  table; aria-busy="false" once loaded; rows tr[data-order-id]
 *                              (cells: id, account id [data-field="accountId"], amount [data-field="amount"],
 *                              status [data-field="status"]); an empty list shows one tr.empty row
 *     #create-order-form       select name="accountId" (my accounts), input name="amount"; POST /api/orders
 *     #open-account-form       input name="accountId"; GET /api/accounts/{id}
 *     #open-account-result     class "found" with a dl of the account, or class "refused" with the reason
 *                              (404: "Not found (404): you can only open your own accounts.")
 */

/** Status codes for which the relay says "no session any more" (the BFF's or the gateway's 401). */
const SESSION_ENDED = 401;

const $ = (selector) => {
  const element = document.querySelector(selector);
  if (element === null) throw new Error(`missing element ${selector}`);
  return element;
};

const ui = {
  message: $('#message'),
  loading: $('#loading'),
  loggedOut: $('#logged-out'),
  loggedIn: $('#logged-in'),
  userBox: $('#user-box'),
  userName: $('#user-name'),
  userSub: $('#user-sub'),
  sessionExpiry: $('#session-expiry'),
  accounts: $('#accounts'),
  orders: $('#orders'),
  createAccountForm: $('#create-account-form'),
  createOrderForm: $('#create-order-form'),
  openAccountForm: $('#open-account-form'),
  openAccountResult: $('#open-account-result'),
};

// ---------------------------------------------------------------------------------------------
// HTTP: same-origin calls to the BFF, errors turned into readable text.
// ---------------------------------------------------------------------------------------------

/** A non-2xx answer; `message` is what the user reads. */
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Calls the BFF. Every state change sends `X-CSRF: 1` (the BFF refuses it otherwise). A body is
 * sent as JSON; without one there is no Content-Type, since Fastify answers 400 to an empty body
 * labelled application/json (POST /auth/logout has none). Resolves the parsed JSON body (or
 * null), throws ApiError on a non-2xx answer.
 */
async function callBff(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF'] = '1';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'The server could not be reached. Is the demo stack running?');
  }
  const data = await readJson(response);
  if (!response.ok) throw new ApiError(response.status, describeError(response, data));
  return data;
}

async function readJson(response) {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One line for an error answer: RFC 9457 problem+json (`title`, `detail`, `invalid-params`),
 * an RFC 6749/6750 OAuth body (`error`, `error_description`), or the `WWW-Authenticate`
 * challenge of RFC 6750 §3 when the body is empty.
 */
function describeError(response, data) {
  const status = response.status;
  const parts = [];
  if (data !== null && typeof data === 'object') {
    if (typeof data.title === 'string') parts.push(data.title);
    if (typeof data.detail === 'string') parts.push(data.detail);
    if (Array.isArray(data['invalid-params'])) {
      for (const param of data['invalid-params']) {
        if (param !== null && typeof param === 'object') parts.push(`${param.name}: ${param.reason}`);
      }
    }
    if (typeof data.error === 'string') parts.push(data.error);
    if (typeof data.error_description === 'string') parts.push(data.error_description);
  }
  if (parts.length === 0) {
    // RFC 6750 §3: Bearer error="insufficient_scope", scope="orders:write"
    const challenge = response.headers.get('www-authenticate') ?? '';
    const error = /error="([^"]*)"/.exec(challenge)?.[1];
    const scope = /scope="([^"]*)"/.exec(challenge)?.[1];
    if (error !== undefined) parts.push(scope === undefined ? error : `${error} (needs ${scope})`);
  }
  if (parts.length === 0) parts.push(response.statusText || 'Request failed');
  return `${parts.join(': ')} (${status})`;
}

// ---------------------------------------------------------------------------------------------
// Small DOM helpers (textContent only: everything rendered is escaped by construction).
// ---------------------------------------------------------------------------------------------

function element(tag, options = {}, children = []) {
  const node = document.createElement(tag);
  if (options.className !== undefined) node.className = options.className;
  if (options.text !== undefined) node.textContent = String(options.text);
  for (const [name, value] of Object.entries(options.attributes ?? {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function showMessage(kind, text) {
  ui.message.dataset.kind = kind;
  ui.message.className = `message message--${kind}`;
  ui.message.textContent = text;
}

function clearMessage() {
  delete ui.message.dataset.kind;
  ui.message.className = 'message';
  ui.message.textContent = '';
}

/** Shows one of the three views; the others are hidden (and so out of the accessibility tree). */
function showView(view) {
  document.body.dataset.view = view;
  ui.loading.hidden = view !== 'loading';
  ui.loggedOut.hidden = view !== 'logged-out';
  ui.loggedIn.hidden = view !== 'logged-in';
  ui.userBox.hidden = view !== 'logged-in';
}

/**
 * Runs a user action: disables the form while it is in flight, shows errors in #message, and
 * turns a 401 (the session ended or was revoked) into the logged-out view. Actions show their
 * success message last, after the tables are reloaded, so the message means "done".
 */
async function runAction(form, action) {
  const controls = form === undefined ? [] : [...form.querySelectorAll('button, input, select')];
  for (const control of controls) control.disabled = true;
  form?.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (err) {
    if (err instanceof ApiError && err.status === SESSION_ENDED) {
      showLoggedOut();
      showMessage('error', 'Your session has ended. Please log in again.');
    } else {
      showMessage('error', err instanceof ApiError ? err.message : `Unexpected error: ${String(err)}`);
    }
  } finally {
    for (const control of controls) control.disabled = false;
    form?.setAttribute('aria-busy', 'false');
  }
}

// ---------------------------------------------------------------------------------------------
// Views.
// ---------------------------------------------------------------------------------------------

function showLoggedOut() {
  ui.userName.textContent = '';
  ui.userSub.textContent = '';
  showView('logged-out');
}

async function showLoggedIn(session) {
  const name = typeof session.name === 'string' && session.name !== '' ? session.name : session.sub;
  ui.userName.textContent = name;
  ui.userSub.textContent = name === session.sub ? '' : session.sub;
  const expires = new Date(session.expiresAt);
  ui.sessionExpiry.textContent = Number.isNaN(expires.getTime())
    ? ''
    : `Your session lasts until ${expires.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}.`;
  showView('logged-in');
  await runAction(undefined, () => Promise.all([loadAccounts(), loadOrders()]));
}

/** GET /api/accounts → Account[]; fills the table and the order form's account select. */
async function loadAccounts() {
  ui.accounts.setAttribute('aria-busy', 'true');
  try {
    const accounts = await callBff('GET', '/api/accounts?limit=100');
    const list = Array.isArray(accounts) ? accounts : [];
    ui.accounts.tBodies[0].replaceChildren(
      ...(list.length === 0 ? [emptyRow(4, 'No accounts yet: create one below.')] : list.map(accountRow)),
    );
    fillAccountSelect(list);
  } finally {
    ui.accounts.setAttribute('aria-busy', 'false');
  }
}

function accountRow(account) {
  const nickname = element('td', { text: account.nickname, attributes: { 'data-field': 'nickname' } });
  const rename = element('button', {
    className: 'button button--small',
    text: 'Rename',
    attributes: {
      type: 'button',
      'data-testid': 'rename-account',
      'aria-label': `Rename ${account.nickname}`,
    },
  });
  rename.addEventListener('click', () => showRenameForm(nickname, rename, account));
  return element('tr', { attributes: { 'data-account-id': account.id } }, [
    element('td', {}, [element('code', { text: account.id })]),
    nickname,
    element('td', { className: 'num', text: account.balance, attributes: { 'data-field': 'balance' } }),
    element('td', { className: 'actions' }, [rename]),
  ]);
}

/** Replaces the nickname cell with a small form; PATCH /api/accounts/{id} on submit. */
function showRenameForm(cell, renameButton, account) {
  const input = element('input', {
    attributes: {
      name: 'nickname',
      type: 'text',
      required: '',
      maxlength: '64',
      'aria-label': `New nickname for ${account.id}`,
    },
  });
  input.value = account.nickname;
  const cancel = element('button', {
    className: 'button button--small',
    text: 'Cancel',
    attributes: { type: 'button', 'data-testid': 'rename-cancel' },
  });
  const form = element(
    'form',
    { className: 'rename-form', attributes: { 'data-testid': 'rename-account-form' } },
    [
      input,
      element('button', {
        className: 'button button--small button--primary',
        text: 'Save',
        attributes: { type: 'submit' },
      }),
      cancel,
    ],
  );
  const restore = () => {
    cell.replaceChildren(account.nickname);
    renameButton.hidden = false;
  };
  cancel.addEventListener('click', restore);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clearMessage();
    void runAction(form, async () => {
      const updated = await callBff('PATCH', `/api/accounts/${encodeURIComponent(account.id)}`, {
        nickname: input.value,
      });
      await loadAccounts();
      showMessage('success', `Account ${updated.id} renamed to “${updated.nickname}”.`);
    });
  });
  renameButton.hidden = true;
  cell.replaceChildren(form);
  input.focus();
  input.select();
}

function fillAccountSelect(accounts) {
  const select = ui.createOrderForm.elements.namedItem('accountId');
  const previous = select.value;
  select.replaceChildren(
    ...accounts.map((account) =>
      element('option', { text: `${account.nickname} (${account.id})`, attributes: { value: account.id } }),
    ),
  );
  if (accounts.some((account) => account.id === previous)) select.value = previous;
  // An order needs one of my accounts: say so rather than offer an empty select.
  if (accounts.length === 0)
    select.append(element('option', { text: 'Create an account first', attributes: { value: '' } }));
}

/** GET /api/orders → Order[]. */
async function loadOrders() {
  ui.orders.setAttribute('aria-busy', 'true');
  try {
    const orders = await callBff('GET', '/api/orders?limit=100');
    const list = Array.isArray(orders) ? orders : [];
    ui.orders.tBodies[0].replaceChildren(
      ...(list.length === 0 ? [emptyRow(4, 'No orders yet: place one below.')] : list.map(orderRow)),
    );
  } finally {
    ui.orders.setAttribute('aria-busy', 'false');
  }
}

function orderRow(order) {
  return element('tr', { attributes: { 'data-order-id': order.id } }, [
    element('td', {}, [element('code', { text: order.id })]),
    element('td', { attributes: { 'data-field': 'accountId' } }, [
      element('code', { text: order.accountId }),
    ]),
    element('td', { className: 'num', text: order.amount, attributes: { 'data-field': 'amount' } }),
    element('td', { attributes: { 'data-field': 'status' } }, [
      // The status is one of the schema's enum values; anything else gets the neutral badge.
      element('span', { className: `badge badge--${statusClass(order.status)}`, text: order.status }),
    ]),
  ]);
}

const statusClass = (status) =>
  ['open', 'paid', 'shipped', 'cancelled'].includes(status) ? status : 'other';

function emptyRow(columns, text) {
  return element('tr', { className: 'empty' }, [
    element('td', { text, attributes: { colspan: String(columns) } }),
  ]);
}

/** The open-account result: the account, or why it was refused. */
function showOpenResult(kind, children) {
  ui.openAccountResult.className = kind === '' ? 'result' : `result ${kind}`;
  ui.openAccountResult.replaceChildren(...children);
}

function describeAccount(account) {
  const rows = [
    ['Id', account.id],
    ['Nickname', account.nickname],
    ['Owner', account.owner],
    ['Balance', account.balance],
  ];
  return element(
    'dl',
    {},
    rows.flatMap(([label, value]) => [element('dt', { text: label }), element('dd', { text: value })]),
  );
}

// ---------------------------------------------------------------------------------------------
// Wiring.
// ---------------------------------------------------------------------------------------------

$('#login').addEventListener('click', () => {
  // The BFF starts the authorization code flow (PKCE, state and nonce stay on the server).
  location.assign(`/auth/login?${new URLSearchParams({ returnTo: '/' }).toString()}`);
});

$('#logout').addEventListener('click', () => {
  clearMessage();
  void runAction(ui.userBox, async () => {
    // Accept: application/json → the BFF answers the OP's end-session URL instead of a 303
    // (fetch cannot follow a cross-origin redirect in a way the page can use).
    const answer = await callBff('POST', '/auth/logout');
    const target = typeof answer?.redirectTo === 'string' ? answer.redirectTo : '/';
    location.assign(target);
  });
});

ui.createAccountForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const nickname = form.elements.namedItem('nickname').value.trim();
  clearMessage();
  void runAction(form, async () => {
    const account = await callBff('POST', '/api/accounts', { nickname });
    form.reset();
    await loadAccounts();
    showMessage('success', `Account “${account.nickname}” created (${account.id}).`);
  });
});

ui.createOrderForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const accountId = form.elements.namedItem('accountId').value;
  const amount = Number(form.elements.namedItem('amount').value);
  clearMessage();
  void runAction(form, async () => {
    const order = await callBff('POST', '/api/orders', { accountId, amount });
    form.elements.namedItem('amount').value = '';
    await loadOrders();
    showMessage('success', `Order ${order.id} placed: ${order.amount} on ${order.accountId}.`);
  });
});

ui.openAccountForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const id = form.elements.namedItem('accountId').value.trim();
  clearMessage();
  showOpenResult('', []);
  void runAction(form, async () => {
    try {
      const account = await callBff('GET', `/api/accounts/${encodeURIComponent(id)}`);
      showOpenResult('found', [describeAccount(account)]);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status === SESSION_ENDED || err.status === 0) throw err;
      // Object-level authorization (OWASP API1:2023): another user's account is a 404, like a missing one.
      const text =
        err.status === 404
          ? 'Not found (404): you can only open your own accounts.'
          : `Refused: ${err.message}`;
      showOpenResult('refused', [element('p', { text })]);
    }
  });
});

/** Boot: ask the BFF who we are (never a token, only the session's subject and name). */
async function start() {
  showView('loading');
  try {
    const session = await callBff('GET', '/auth/session');
    if (session?.authenticated === true) await showLoggedIn(session);
    else showLoggedOut();
  } catch (err) {
    showLoggedOut();
    showMessage('error', err instanceof ApiError ? err.message : String(err));
  }
}

void start();
