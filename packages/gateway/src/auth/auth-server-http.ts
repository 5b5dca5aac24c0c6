import { GatehouseError } from '@gatehouse/core';
import { Agent, request } from 'undici';

/** Largest answer read from the auth server (discovery, introspection, token exchange). */
const MAX_BODY_BYTES = 64 * 1024;

export interface AuthServerAnswer {
  readonly status: number;
  /** The parsed JSON body; undefined when it is not JSON. */
  readonly body: unknown;
}

export interface AuthServerHttp {
  /** GET a JSON document (discovery). */
  getJson(url: string): Promise<AuthServerAnswer>;
  /** POST a form authenticated with the gateway's client (client_secret_basic). */
  postForm(url: string, form: string): Promise<AuthServerAnswer>;
  close(): Promise<void>;
}

export interface AuthServerHttpOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timeoutMs: number;
}

/** RFC 6749 §2.3.1: id and secret are form-urlencoded first, then joined with `:` and base64-encoded. */
export function buildBasicAuthorization(clientId: string, clientSecret: string): string {
  const encode = (value: string): string => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

export function authUnavailable(detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('ERR_GATEWAY_AUTH_UNAVAILABLE', {
    detail,
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The gateway's calls to the auth server: one keep-alive pool (undici), a deadline per call
 * covering connect, headers and body, a bounded body, no redirects. Any transport failure becomes
 * `ERR_GATEWAY_AUTH_UNAVAILABLE` (the caller fails closed).
 */
export function createAuthServerHttp(options: AuthServerHttpOptions): AuthServerHttp {
  const { timeoutMs } = options;
  const agent = new Agent({
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 10_000,
  });
  const authorization = buildBasicAuthorization(options.clientId, options.clientSecret);

  async function call(
    url: string,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body?: string,
  ): Promise<AuthServerAnswer> {
    let status: number;
    let text: string;
    try {
      const response = await request(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        dispatcher: agent,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.statusCode;
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          response.body.destroy();
          throw authUnavailable('auth server answer too large');
        }
        chunks.push(chunk);
      }
      text = Buffer.concat(chunks).toString('utf8');
    } catch (err) {
      if (err instanceof GatehouseError) throw err;
      throw authUnavailable(`auth server unreachable: ${method} ${new URL(url).pathname}`, err);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status, body: parsed };
  }

  return {
    getJson: (url) => call(url, 'GET', { accept: 'application/json' }),
    postForm: (url, form) =>
      call(
        url,
        'POST',
        {
          accept: 'application/json',
          authorization,
          'content-type': 'application/x-www-form-urlencoded',
        },
        form,
      ),
    close: () => agent.close(),
  };
}
