import { buildProblemResponse, ERROR_CODES, type ErrorCode } from '@gatehouse/core';
import type { FastifyReply } from 'fastify';

/** The BFF's refusals: stable codes of the core registry (docs/errors.md), one status each. */
export type BffErrorCode = Extract<ErrorCode, `ERR_BFF_${string}`>;

/** Answers with an RFC 9457 problem naming the stable code. */
export function sendProblem(reply: FastifyReply, code: BffErrorCode, status?: number): FastifyReply {
  const info = ERROR_CODES[code];
  const response = buildProblemResponse({
    status: status ?? info.status,
    detail: info.message,
    extensions: { code },
  });
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
  return reply.code(response.status).send(response.body);
}
