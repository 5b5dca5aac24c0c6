/**
 * The first `<form>` of an HTML page as a scripted browser needs it (the auth server's login and
 * consent pages, the BFF flows): shared by the suites that drive those pages without JavaScript.
 */

export interface ParsedForm {
  readonly action: string;
  readonly method: string;
  /** Hidden inputs (name → value), e.g. the CSRF token. */
  readonly hidden: Readonly<Record<string, string>>;
  /** Names of every input, in order. */
  readonly inputs: readonly string[];
  /** Submit buttons as `name=value`. */
  readonly buttons: readonly string[];
}

const decodeEntities = (text: string): string =>
  text
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : decodeEntities(match[1]);
}

/** Parses the first `<form>` of a page (our pages are plain, well-formed HTML). */
export function parseForm(html: string): ParsedForm {
  const form = /(<form\b[^>]*>)([\s\S]*?)<\/form>/i.exec(html);
  const open = form?.[1];
  const body = form?.[2];
  if (open === undefined || body === undefined) throw new Error('no form on the page');
  const hidden: Record<string, string> = {};
  const inputs: string[] = [];
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
  return {
    action: attribute(open, 'action') ?? '',
    method: (attribute(open, 'method') ?? 'get').toLowerCase(),
    hidden,
    inputs,
    buttons,
  };
}
