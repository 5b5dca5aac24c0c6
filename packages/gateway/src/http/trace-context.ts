import { randomFillSync } from 'node:crypto';

// Ids come from a pooled buffer: one entropy read per ~170 requests instead of one per id.
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;

/** `bytes` random bytes as lower-case hex, never all zero (W3C Trace Context §3.2.2.3, §3.2.2.4). */
function createRandomHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > pool.length) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const start = poolOffset;
    poolOffset += bytes;
    for (let i = start; i < poolOffset; i++)
      if (pool[i] !== 0) return pool.toString('hex', start, poolOffset);
  }
}

const VERSION_00_LENGTH = 55; // 00-<32 hex>-<16 hex>-<2 hex>

/** Lower-case hex only: upper case is invalid (W3C Trace Context §3.2.2). */
function isLowerHex(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

function isAllZero(value: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (value.charCodeAt(i) !== 0x30) return false;
  return true;
}

/**
 * The `traceparent` the gateway sends upstream (W3C Trace Context §3.2): an incoming valid header keeps its
 * trace-id and flags with the gateway as the new parent; anything else starts a new trace (sampled, so that a
 * service's parent-based sampler behaves as if the gateway were not there). Versions above 00 are read as 00
 * (§4.3: parse the fields of version 00, ignore what follows); version ff is invalid.
 */
export function continueTraceparent(incoming: string | undefined): string {
  if (incoming !== undefined && isValidTraceparent(incoming)) {
    return `00-${incoming.slice(3, 35)}-${createRandomHex(8)}-${incoming.slice(53, 55)}`;
  }
  return `00-${createRandomHex(16)}-${createRandomHex(8)}-01`;
}

function isValidTraceparent(value: string): boolean {
  if (value.length < VERSION_00_LENGTH || !isLowerHex(value, 0, 2)) return false;
  const version = value.slice(0, 2);
  if (version === 'ff') return false;
  if (
    version === '00'
      ? value.length !== VERSION_00_LENGTH
      : value.length > VERSION_00_LENGTH && value[55] !== '-'
  )
    return false;
  return (
    value[2] === '-' &&
    value[35] === '-' &&
    value[52] === '-' &&
    isLowerHex(value, 3, 35) &&
    !isAllZero(value, 3, 35) && // §3.2.2.3: all-zero trace-id is invalid
    isLowerHex(value, 36, 52) &&
    !isAllZero(value, 36, 52) && // §3.2.2.4: all-zero parent-id is invalid
    isLowerHex(value, 53, 55)
  );
}
