/** One cookie as a browser keeps it, with the attributes the server set. */
export interface StoredCookie {
  readonly name: string;
  readonly value: string;
  /** Attribute names in lower case; flag attributes (HttpOnly, Secure) map to true. */
  readonly attributes: Readonly<Record<string, string | true>>;
}

/**
 * A minimal browser cookie jar for one origin: keeps what `Set-Cookie` says (RFC 6265 §5.2), drops
 * a cookie set with `Max-Age=0`, sends the rest back in a `Cookie` header. Enough for a scripted
 * browser against one server; no domain or path matching.
 */
export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Records every `Set-Cookie` of a response. */
  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) this.storeLine(line);
  }

  storeLine(line: string): void {
    const [pair = '', ...attributeParts] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq === -1) return;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const attributes: Record<string, string | true> = {};
    for (const part of attributeParts) {
      const i = part.indexOf('=');
      if (i === -1) attributes[part.trim().toLowerCase()] = true;
      else attributes[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
    }
    if (attributes['max-age'] === '0' || value === '') this.#cookies.delete(name);
    else this.#cookies.set(name, { name, value, attributes });
  }

  get(name: string): StoredCookie | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, { name, value, attributes: {} });
  }

  delete(name: string): void {
    this.#cookies.delete(name);
  }

  names(): string[] {
    return [...this.#cookies.keys()];
  }

  /** The `Cookie` request header, or undefined when the jar is empty. */
  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies.values()].map((c) => `${c.name}=${c.value}`).join('; ');
  }
}
