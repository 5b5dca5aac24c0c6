import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from './codes.js';

/** docs/errors.md must list exactly the registry's codes, with the same status and OAuth error. */
const DOC = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');

interface Row {
  readonly code: string;
  readonly status: number;
  readonly oauthError: string | undefined;
  readonly meaning: string;
  readonly clientSees: string;
}

function parseRows(markdown: string): Row[] {
  const rows: Row[] = [];
  for (const line of markdown.split('\n')) {
    if (!/^\|\s*`ERR_/.test(line)) continue;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim());
    expect(cells, line).toHaveLength(5);
    const [code, status, oauth, meaning, clientSees] = cells as [string, string, string, string, string];
    rows.push({
      code: code.replace(/^`|`$/g, ''),
      status: Number(status),
      oauthError: oauth === '—' ? undefined : oauth.replace(/^`|`$/g, ''),
      meaning,
      clientSees,
    });
  }
  return rows;
}

/** The response shape (named in the doc's shapes table) a code gets from toErrorResponse. */
function expectedShape(code: ErrorCode, info: ErrorCodeInfo): string {
  if (code === 'ERR_OAUTH_TOKEN_MISSING') return 'Bare challenge';
  // Authorization-server errors: an RFC 6749 §5.2 JSON body, no challenge.
  if (
    code.startsWith('ERR_OAUTH_') &&
    code !== 'ERR_OAUTH_INVALID_REQUEST' &&
    info.oauthError !== undefined
  ) {
    return 'OAuth error';
  }
  switch (info.oauthError) {
    case 'invalid_token':
      return 'OAuth token error';
    case 'invalid_dpop_proof':
      return 'OAuth proof error';
    case 'invalid_request':
      return 'OAuth bad request';
    case 'insufficient_scope':
      return 'OAuth scope error';
    default:
      return info.status === 503 ? 'Unavailable' : info.status >= 500 ? 'Generic' : 'Problem with code';
  }
}

const rows = parseRows(DOC);

describe('docs/errors.md', () => {
  it('lists every registered code exactly once, and nothing else', () => {
    const documented = rows.map((row) => row.code);
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });

  it.each(rows)('$code: status, OAuth error and client view match the registry', (row) => {
    const code = row.code as ErrorCode;
    const info: ErrorCodeInfo = ERROR_CODES[code];
    expect(row.status).toBe(info.status);
    expect(row.oauthError).toBe(info.oauthError);
    expect(row.meaning.length).toBeGreaterThan(10);
    expect(row.clientSees.startsWith(expectedShape(code, info))).toBe(true);
  });

  it('explains stable codes, expose and that details never reach a client', () => {
    expect(DOC).toMatch(/stable code/i);
    expect(DOC).toContain('`expose`');
    expect(DOC).toMatch(/`detail` is for logs only/);
    expect(DOC).toContain('Neither is ever sent to a client');
  });
});
