import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '@gatehouse/core';

function tooLarge(maxBytes: number): GatehouseError {
  return new GatehouseError('ERR_GATEWAY_PAYLOAD_TOO_LARGE', {
    detail: `request body above ${maxBytes} bytes`,
  });
}

/**
 * Reads a request body into one Buffer, refusing it as soon as it grows past `maxBytes` (a declared
 * `Content-Length` above the limit is refused before a byte is read). On refusal the stream is paused
 * and every listener this function added is removed; the caller answers 413 with `Connection: close`
 * (RFC 9110 §15.5.14) so the rest of the body is never read. A stream that ends early or fails rejects
 * with `ERR_GATEWAY_BAD_REQUEST`.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
    return Promise.reject(new TypeError('maxBytes must be a non-negative integer'));
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  if (req.readableEnded || req.destroyed) {
    return Promise.reject(
      new GatehouseError('ERR_GATEWAY_BAD_REQUEST', { detail: 'request body already consumed or aborted' }),
    );
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        chunks.length = 0;
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(
        new GatehouseError('ERR_GATEWAY_BAD_REQUEST', { detail: 'request body stream failed', cause: error }),
      );
    };
    // 'close' before 'end': the client went away mid-body (IncomingMessage emits 'error' only when listened to).
    const onClose = (): void => {
      cleanup();
      reject(
        new GatehouseError('ERR_GATEWAY_BAD_REQUEST', {
          detail: 'request aborted before the body was complete',
        }),
      );
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
    req.resume();
  });
}
