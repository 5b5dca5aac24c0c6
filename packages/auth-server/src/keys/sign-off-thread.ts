import { sign } from 'node:crypto';

/** A private key with its node:crypto signing options (IEEE P1363 signatures, RSA padding). */
export type SigningKey = Parameters<typeof sign>[2];

/**
 * node:crypto `sign` with a callback: the signature is computed on libuv's thread pool, so while
 * it is computed the event loop serves other requests (the synchronous call would block it, about
 * 20 µs for ES256). Jobs queue inside libuv and its threads take them back to back: gating them
 * from JavaScript instead (a concurrency limit) was measured to cut throughput by more than half,
 * since every signature then waits for an event-loop turn before the next can start.
 */
export function signOffThread(algorithm: string | null, data: Buffer, key: SigningKey): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    sign(algorithm, data, key, (err, signature) => {
      if (err === null) resolve(signature);
      else reject(err);
    });
  });
}
