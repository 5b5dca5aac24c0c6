import { parseForm } from '@gatehouse/testing';
import { fetch as undiciFetch, type Dispatcher } from 'undici';

/**
 * A scripted browser for the BFF tests: one cookie jar (browsers key cookies by host, not port, so
 * the OP on 127.0.0.1:A and the BFF on 127.0.0.1:B share it, as in Chromium), no JavaScript,
 * redirects never followed automatically (each hop is asserted or followed by hand).
 */
export interface StoredCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names in lower case; flags map to true. */
  readonly attributes: Readonly<Record<string, string | true>>;
  /** The raw `Set-Cookie` line. */
  readonly line: string;
}

export interface Page {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The `Location`, resolved against the request URL. */
  readonly location: string | undefined;
}

export function parseSetCookie(line: string): StoredCookie {
  const [pair = '', ...parts] = line.split(';');
  const eq = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const part of parts) {
    const i = part.indexOf('=');
    if (i === -1) attributes[part.trim().toLowerCase()] = true;
    else attributes[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return { name: pair.slice(0, eq).trim(), value: pair.slice(eq + 1).trim(), attributes, line };
}

export class Browser {
  readonly #cookies = new Map<string, StoredCookie>();
  readonly #dispatcher: Dispatcher | undefined;

  /** `dispatcher`: how to connect, e.g. an undici Agent trusting a test CA for https pages. */
  constructor(options: { readonly dispatcher?: Dispatcher } = {}) {
    this.#dispatcher = options.dispatcher;
  }

  cookie(name: string): StoredCookie | undefined {
    return this.#cookies.get(name);
  }

  /** Plants a cookie as an attacker (or a sibling page) could. */
  setCookie(name: string, value: string): void {
    this.#cookies.set(name, { name, value, attributes: {}, line: `${name}=${value}` });
  }

  deleteCookie(name: string): void {
    this.#cookies.delete(name);
  }

  cookieHeader(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies.values()].map((c) => `${c.name}=${c.value}`).join('; ');
  }

  async request(
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Page> {
    const headers: Record<string, string> = { ...init.headers };
    const cookie = this.cookieHeader();
    if (cookie !== undefined) headers['cookie'] = cookie;
    const requestInit = {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      redirect: 'manual' as const,
    };
    // undici's own fetch takes its own Agent; both answer with the same Fetch API Response.
    const response =
      this.#dispatcher === undefined
        ? await fetch(url, requestInit)
        : ((await undiciFetch(url, { ...requestInit, dispatcher: this.#dispatcher })) as unknown as Response);
    for (const line of response.headers.getSetCookie()) {
      const parsed = parseSetCookie(line);
      if (parsed.attributes['max-age'] === '0' || parsed.value === '') this.#cookies.delete(parsed.name);
      else this.#cookies.set(parsed.name, parsed);
    }
    const text = await response.text();
    const location = response.headers.get('location');
    return {
      status: response.status,
      headers: response.headers,
      text,
      location: location === null ? undefined : new URL(location, url).href,
    };
  }

  get(url: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(url, { headers });
  }

  postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  }
}

export { parseForm };

export interface OpLogin {
  readonly issuer: string;
  readonly username: string;
  readonly password: string;
}

/**
 * The OP's side of a login the browser was just sent to (`page` is the BFF's 303 to the
 * authorization endpoint): the login form when asked, consent when asked. Resolves the OP's last
 * answer, whose `location` is the client's callback.
 */
export async function passOpLogin(browser: Browser, started: Page, op: OpLogin): Promise<Page> {
  if (started.status !== 303 || started.location === undefined)
    throw new Error(`login start: ${started.status}`);
  let page = await browser.get(started.location);
  if (page.status === 200 && parseForm(page.text).inputs.includes('password')) {
    const form = parseForm(page.text);
    page = await browser.postForm(new URL(form.action, op.issuer).href, {
      ...form.hidden,
      username: op.username,
      password: op.password,
    });
  }
  if (page.location === `${op.issuer}/consent`) page = await browser.get(page.location);
  if (page.status === 200 && parseForm(page.text).buttons.includes('decision=approve')) {
    const form = parseForm(page.text);
    page = await browser.postForm(new URL(form.action, op.issuer).href, {
      ...form.hidden,
      decision: 'approve',
    });
  }
  return page;
}
