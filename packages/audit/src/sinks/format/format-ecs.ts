import { isSensitiveKey } from '@gatehouse/core';
import type { AuditRecord } from '../types.js';

/** The ECS version whose field names the documents use. */
export const ECS_VERSION = '8.11.0';

/**
 * One audit record as an Elastic Common Schema document (nested objects, as ECS JSON). ECS fields
 * where ECS has one; Gatehouse-only fields (the OAuth client, the decision, the target, details)
 * under the custom `gatehouse` namespace, since ECS reserves its own field sets (`client.*` is the
 * network peer of a connection, not an OAuth client).
 */
export interface EcsDocument {
  readonly '@timestamp': string;
  readonly ecs: { readonly version: string };
  readonly event: {
    readonly id: string;
    readonly sequence: number;
    readonly action: string;
    readonly outcome: string;
    readonly kind: 'event';
    readonly dataset: 'gatehouse.audit';
    readonly reason?: string;
  };
  readonly service: { readonly name: string };
  readonly user?: { readonly id: string };
  readonly source?: { readonly ip: string };
  readonly http?: { readonly request: { readonly id: string } };
  readonly gatehouse?: {
    readonly client_id?: string;
    readonly decision?: 'allow' | 'deny';
    readonly target?: { readonly type?: string; readonly id?: string };
    readonly details?: Readonly<Record<string, string | number | boolean>>;
  };
}

/**
 * Details are free-form: a member whose name looks like a credential (`token`, `secret`,
 * `password`, `authorization`…) is left out. Producers never put one there; this keeps a mistake
 * from reaching a SIEM, where it could not be taken back.
 */
function safeDetails(
  details: Readonly<Record<string, string | number | boolean>> | undefined,
): Record<string, string | number | boolean> | undefined {
  if (details === undefined) return undefined;
  const kept = Object.entries(details).filter(([key]) => !isSensitiveKey(key));
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

export function buildEcsDocument(record: AuditRecord): EcsDocument {
  const { event } = record;
  const details = safeDetails(event.details);
  const target =
    event.target === undefined
      ? undefined
      : {
          ...(event.target.type === undefined ? {} : { type: event.target.type }),
          ...(event.target.id === undefined ? {} : { id: event.target.id }),
        };
  const gatehouse = {
    ...(event.actor?.clientId === undefined ? {} : { client_id: event.actor.clientId }),
    ...(event.decision === undefined ? {} : { decision: event.decision }),
    ...(target === undefined ? {} : { target }),
    ...(details === undefined ? {} : { details }),
  };
  return {
    '@timestamp': event.time,
    ecs: { version: ECS_VERSION },
    event: {
      id: record.id,
      sequence: record.seq,
      action: event.action,
      outcome: event.outcome,
      kind: 'event',
      dataset: 'gatehouse.audit',
      ...(event.reason === undefined ? {} : { reason: event.reason }),
    },
    service: { name: event.component },
    ...(event.actor?.sub === undefined ? {} : { user: { id: event.actor.sub } }),
    ...(event.sourceIp === undefined ? {} : { source: { ip: event.sourceIp } }),
    ...(event.requestId === undefined ? {} : { http: { request: { id: event.requestId } } }),
    ...(Object.keys(gatehouse).length === 0 ? {} : { gatehouse }),
  };
}

/** One record as one line of ECS JSON (no trailing newline; `JSON.stringify` escapes any newline). */
export function formatEcsJson(record: AuditRecord): string {
  return JSON.stringify(buildEcsDocument(record));
}
