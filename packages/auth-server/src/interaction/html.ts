import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/** HTML-escapes text for element content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = [
  'body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}',
  'main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}',
  'h1{font-size:1.3rem;margin-top:0}label{display:block;margin:1rem 0 .3rem}',
  'input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}',
  'button{margin-top:1.2rem;padding:.55rem 1.2rem;font-size:1rem;margin-right:.5rem}',
  '.error{color:#a00;background:#fee;padding:.6rem;border-radius:4px}ul{padding-left:1.2rem}',
].join('');

/** The stylesheet is allowed by its hash (CSP Level 3 §8.4): no 'unsafe-inline'. */
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

/**
 * CSP of every page: nothing loads but our one stylesheet, no script at all, never framed
 * (clickjacking of the login and consent forms), forms post only to this server. `formTarget`
 * is the origin a successful form answer redirects to (the client's registered redirect URI):
 * browsers apply form-action to the redirects that follow a submission.
 */
export function contentSecurityPolicy(formTarget?: string): string {
  const formAction = formTarget === undefined ? "'self'" : `'self' ${formTarget}`;
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
    `form-action ${formAction}`,
  ].join('; ');
}

/**
 * The CSP source expression of a registered redirect URI: its origin for http(s), its scheme for a
 * private-use URI scheme (RFC 8252 §7.1). Undefined if it cannot be expressed safely.
 */
export function cspSourceOf(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  const source = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  return /^[A-Za-z0-9+.:/[\]-]+$/.test(source) ? source : undefined;
}

export interface Page {
  readonly status: number;
  readonly title: string;
  /** Already-escaped HTML of the page body. */
  readonly body: string;
  /** Origin successful form submissions of this page redirect to. */
  readonly formTarget?: string | undefined;
  readonly cookies?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
}

export function sendPage(reply: FastifyReply, page: Page): FastifyReply {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(page.title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(page.title)}</h1>
${page.body}
</main></body></html>
`;
  if (page.cookies !== undefined && page.cookies.length > 0) void reply.header('set-cookie', page.cookies);
  for (const [name, value] of Object.entries(page.headers ?? {})) void reply.header(name, value);
  return reply
    .code(page.status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', contentSecurityPolicy(page.formTarget))
    .header('cache-control', 'no-store')
    .send(html);
}

const hidden = (name: string, value: string): string =>
  `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`;

const errorBox = (message: string | undefined): string =>
  message === undefined ? '' : `<p class="error" role="alert">${escapeHtml(message)}</p>`;

export interface LoginPageInput {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly error?: string | undefined;
}

/** The login form: inputs named exactly `username` and `password` (architecture contract). */
export function loginPage(input: LoginPageInput): string {
  return `<p>Sign in to continue to <strong>${escapeHtml(input.clientName)}</strong>.</p>
${errorBox(input.error)}
<form method="post" action="${escapeHtml(input.action)}">
${hidden('csrf', input.csrf)}
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" maxlength="64" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`;
}

const SCOPE_TEXT: Readonly<Record<string, string>> = {
  openid: 'Confirm your identity',
  profile: 'Read your name and username',
  email: 'Read your email address',
  offline_access: 'Keep access while you are away',
};

export interface ConsentPageInput {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  readonly username: string;
  readonly scopes: readonly string[];
  readonly resource: string | null;
}

export function consentPage(input: ConsentPageInput): string {
  const items = input.scopes.map(
    (scope) =>
      `<li>${escapeHtml(SCOPE_TEXT[scope] ?? 'Use the permission')} <code>${escapeHtml(scope)}</code></li>`,
  );
  return `<p><strong>${escapeHtml(input.clientName)}</strong> asks to access your account
<strong>${escapeHtml(input.username)}</strong>.</p>
${items.length > 0 ? `<ul>${items.join('')}</ul>` : '<p>No extra permissions are requested.</p>'}
${input.resource === null ? '' : `<p>For the service <code>${escapeHtml(input.resource)}</code>.</p>`}
<form method="post" action="${escapeHtml(input.action)}">
${hidden('csrf', input.csrf)}
<button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>`;
}

export interface LogoutPageInput {
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string | undefined;
}

export function logoutConfirmPage(input: LogoutPageInput): string {
  const from =
    input.clientName === undefined ? '' : ` requested by <strong>${escapeHtml(input.clientName)}</strong>`;
  return `<p>Do you want to sign out${from}?</p>
<form method="post" action="${escapeHtml(input.action)}">
${hidden('csrf', input.csrf)}
<button type="submit" name="confirm" value="yes">Sign out</button>
</form>`;
}

export function messagePage(message: string): string {
  return `<p>${escapeHtml(message)}</p>`;
}
