/**
 * `GET /public/status`: no token, but still only over the gateway's mTLS connection. The gateway
 * and `gatehouse up` use it as the readiness check.
 */
export const getStatus = (): Promise<{ status: 'ok' }> => Promise.resolve({ status: 'ok' });
