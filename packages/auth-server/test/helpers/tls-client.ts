import { request } from 'node:https';
import type { FormResponse } from './oauth-client.js';

/** What a TLS client presents: the CA it trusts for the server, and its own certificate, if any. */
export interface TlsClientOptions {
  readonly ca: string;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly headers?: Readonly<Record<string, string | readonly string[]>>;
}

/**
 * One HTTPS request on its own connection (no agent: a connection made with one certificate is
 * never reused for a request meant to present another). Headers may repeat (array values).
 */
export function httpsRequest(
  url: string,
  method: 'GET' | 'POST',
  options: TlsClientOptions,
  body?: string,
): Promise<FormResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      headers[name] = typeof value === 'string' ? value : [...value];
    }
    const req = request(
      url,
      {
        method,
        agent: false,
        ca: options.ca,
        ...(options.cert === undefined ? {} : { cert: options.cert }),
        ...(options.key === undefined ? {} : { key: options.key }),
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value === undefined) continue;
            for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
          }
          let parsed: Record<string, unknown> = {};
          try {
            const json: unknown = JSON.parse(text);
            if (typeof json === 'object' && json !== null) parsed = json as Record<string, unknown>;
          } catch {
            parsed = {};
          }
          resolve({ status: res.statusCode ?? 0, headers: responseHeaders, text, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** POSTs a form over HTTPS (absent values left out). */
export function httpsPostForm(
  url: string,
  params: Readonly<Record<string, string | undefined>>,
  options: TlsClientOptions,
): Promise<FormResponse> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.append(name, value);
  return httpsRequest(url, 'POST', options, form.toString());
}
