/** Frozen clock of every service under test: 2026-01-01T00:00:00Z. */
export const NOW_MS = Date.UTC(2026, 0, 1);
export const NOW = NOW_MS / 1000;
export const ISSUER = 'http://127.0.0.1:4000';
export const GATEWAY_ID = 'spiffe://gatehouse.local/gateway';
