import { hashToken, randomToken } from '@gatehouse/core';
import type { AuthServerDeps } from '../context.js';
import type { Params } from '../http/params.js';
import { PAR_URN_PREFIX } from './authorization-request.js';

export interface PushedRequest {
  readonly requestUri: string;
  readonly expiresIn: number;
}

export interface ParStore {
  /** Stores validated parameters; the request URI is a 256-bit secret kept only as its hash. */
  push(clientId: string, params: Params): Promise<PushedRequest>;
  /**
   * The parameters a request URI stands for, consumed at once (RFC 9126 §4: one-time use), only for
   * the client that pushed them and only before they expire. Undefined otherwise.
   */
  consume(clientId: string, requestUri: string): Promise<Params | undefined>;
}

export function createParStore(deps: Pick<AuthServerDeps, 'db' | 'now' | 'config'>): ParStore {
  const { db } = deps;
  return {
    async push(clientId, params) {
      const requestUri = `${PAR_URN_PREFIX}${randomToken()}`;
      const ttl = deps.config.tokens.parTtlSec;
      await db
        .insertInto('par_requests')
        .values({
          request_uri_hash: hashToken(requestUri),
          client_id: clientId,
          params: JSON.stringify(params),
          expires_at: deps.now() + ttl * 1000,
          consumed_at: null,
        })
        .execute();
      return { requestUri, expiresIn: ttl };
    },

    async consume(clientId, requestUri) {
      if (!requestUri.startsWith(PAR_URN_PREFIX) || requestUri.length > 200) return undefined;
      const hash = hashToken(requestUri);
      const now = deps.now();
      // Compare-and-set: of two concurrent uses, exactly one consumes the request.
      const result = await db
        .updateTable('par_requests')
        .set({ consumed_at: now })
        .where('request_uri_hash', '=', hash)
        .where('client_id', '=', clientId)
        .where('consumed_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return undefined;
      const row = await db
        .selectFrom('par_requests')
        .select('params')
        .where('request_uri_hash', '=', hash)
        .executeTakeFirstOrThrow();
      const parsed = JSON.parse(row.params) as Record<string, string>;
      return Object.assign(Object.create(null) as Record<string, string>, parsed);
    },
  };
}
