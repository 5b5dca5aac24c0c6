import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';

/** The part of an ECS document the tests look at (the suites compare whole documents too). */
export interface ReceivedDocument {
  readonly event: { readonly id: string; readonly sequence: number };
}

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly documents: readonly ReceivedDocument[];
  /** The status answered, or `hang` for a request never answered. */
  readonly answer: number | 'hang';
}

/** What to do with the n-th request (1-based): a status, or never answer. */
export type Answer = (n: number) => number | 'hang';

export interface WebhookReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Sequence numbers of the events in the batches answered with a 2xx, in arrival order. */
  accepted(): number[];
  answer: Answer;
  /** Listens (again, on the same port after a stop). */
  start(): Promise<void>;
  /** Closes the listener and every connection, hung requests included (an outage). */
  stop(): Promise<void>;
}

/** A real HTTPS receiver (node:https with a dev-CA certificate) that records each batch. */
export async function createWebhookReceiver(tls: { cert: string; key: string }): Promise<WebhookReceiver> {
  const requests: ReceivedRequest[] = [];
  let server: Server | undefined;
  let port = 0;
  const receiver: WebhookReceiver = {
    get url() {
      return `https://127.0.0.1:${port}/audit?tenant=t1`;
    },
    requests,
    answer: () => 200,
    accepted() {
      return requests
        .filter((request) => typeof request.answer === 'number' && request.answer < 300)
        .flatMap((request) => request.documents.map((document) => document.event.sequence));
    },
    async start() {
      const listener = createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const answer = receiver.answer(requests.length + 1);
          requests.push({
            headers: request.headers,
            documents: JSON.parse(Buffer.concat(chunks).toString('utf8')) as ReceivedDocument[],
            answer,
          });
          if (answer === 'hang') return;
          response.writeHead(answer, { 'content-type': 'application/json' }).end('{"echo":"ignored"}');
        });
      });
      await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve));
      port = (listener.address() as { port: number }).port;
      server = listener;
    },
    async stop() {
      const listener = server;
      server = undefined;
      if (listener === undefined) return;
      const closed = new Promise((resolve) => listener.close(resolve));
      listener.closeAllConnections();
      await closed;
    },
  };
  await receiver.start();
  return receiver;
}
