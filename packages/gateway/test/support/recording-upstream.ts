import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface RecordingUpstream {
  url: string;
  port: number;
  /** Every request received, in arrival order (recorded once its body is complete). */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface RecordingUpstreamOptions {
  /** Answers each request; by default 200 with `{"method":…,"url":…}`. */
  handler?: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;
}

function answerWithEcho(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify({ method: req.method, url: req.url });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A real upstream on 127.0.0.1, port 0, that records everything it receives — attack tests assert it saw nothing. */
export async function startRecordingUpstream(
  options: RecordingUpstreamOptions = {},
): Promise<RecordingUpstream> {
  const handler = options.handler ?? answerWithEcho;
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
