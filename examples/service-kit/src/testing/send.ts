import { request } from 'node:https';
import type { CertificateAndKey } from '@gatehouse/core';

export interface SendOptions {
  readonly method?: string;
  readonly token?: string;
  readonly body?: unknown;
  readonly contentType?: string;
  /** Client certificate presented in the TLS handshake (none when undefined). */
  readonly client?: CertificateAndKey | undefined;
  readonly headers?: Record<string, string>;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: unknown;
}

/** One HTTPS request on a fresh connection (no connection reuse between identities). */
export function send(
  baseUrl: string,
  caPem: string,
  path: string,
  options: SendOptions = {},
): Promise<TestResponse> {
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (payload !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, baseUrl),
      {
        method: options.method ?? 'GET',
        headers,
        ca: caPem,
        agent: false,
        ...(options.client === undefined ? {} : { cert: options.client.certPem, key: options.client.keyPem }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text === '' ? undefined : JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
