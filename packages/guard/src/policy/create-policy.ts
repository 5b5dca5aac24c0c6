import { buildAuditActor, emitAuditEvent, type AuditEvent, type AuditSink } from '@gatehouse/core';
import type { Principal } from '../jwt/principal.js';
import type { Condition, QueryFilter } from './query-filter.js';
import { describeRule, type Rule } from './rules.js';

/** The object being accessed: its type, id and the attributes rules look at (e.g. `ownerId`). */
export interface Resource {
  readonly type: string;
  readonly id?: string;
  readonly [attribute: string]: unknown;
}

export interface Decision {
  readonly allow: boolean;
  /** The rule that allowed, or why nothing did. */
  readonly reason: string;
}

export type PolicyPrincipal = Pick<Principal, 'sub' | 'clientId' | 'scopes' | 'roles' | 'tenant'>;

/** resource type → action → rule (a list means any of them). Anything not listed is denied. */
export type PolicyRules = Readonly<Record<string, Readonly<Record<string, Rule | readonly Rule[]>>>>;

export interface PolicyOptions {
  /** Receives an `authz.decision` event for every decision. */
  readonly audit?: AuditSink;
  /** Component name in audit events (default `guard`). */
  readonly component?: string;
  readonly now?: () => number;
  /** Called when the audit sink throws or rejects (the decision stands). */
  readonly onAuditError?: (err: unknown) => void;
}

export interface Policy {
  authorize(principal: PolicyPrincipal, action: string, resource: Resource): Decision;
  /** The same rules as a filter for list queries: no object-level bypass through listing. */
  filter(principal: PolicyPrincipal, action: string, resourceType: string): QueryFilter;
}

type Evaluated = boolean | Condition;

function evaluate(rule: Rule, principal: PolicyPrincipal): Evaluated {
  if ('owner' in rule) return { field: rule.owner, equals: principal.sub };
  if ('tenant' in rule)
    return principal.tenant === undefined ? false : { field: rule.tenant, equals: principal.tenant };
  if ('role' in rule) return rule.role.some((r) => principal.roles.includes(r));
  if ('scope' in rule) return rule.scope.every((s) => principal.scopes.includes(s));
  const parts = ('all' in rule ? rule.all : rule.any).map((r) => evaluate(r, principal));
  return 'all' in rule ? conjunction(parts) : disjunction(parts);
}

function conjunction(parts: readonly Evaluated[]): Evaluated {
  if (parts.includes(false)) return false;
  const conditions = parts.filter((p): p is Condition => p !== true);
  if (conditions.length === 0) return true;
  return conditions.length === 1 ? (conditions[0] as Condition) : { and: conditions };
}

function disjunction(parts: readonly Evaluated[]): Evaluated {
  if (parts.includes(true)) return true;
  const conditions = parts.filter((p): p is Condition => p !== false);
  if (conditions.length === 0) return false;
  return conditions.length === 1 ? (conditions[0] as Condition) : { or: conditions };
}

function holds(evaluated: Evaluated, resource: Resource): boolean {
  if (typeof evaluated === 'boolean') return evaluated;
  if ('field' in evaluated) {
    const value = resource[evaluated.field];
    return typeof value === 'string' && value === evaluated.equals;
  }
  return 'and' in evaluated
    ? evaluated.and.every((c) => holds(c, resource))
    : evaluated.or.some((c) => holds(c, resource));
}

/**
 * Object-level authorization (OWASP API1 BOLA): deny unless a rule for the resource type and action
 * allows, and report every decision to the audit sink.
 */
export function createPolicy(rules: PolicyRules, options: PolicyOptions = {}): Policy {
  const component = options.component ?? 'guard';
  const now = options.now ?? Date.now;
  const rulesFor = (type: string, action: string): readonly Rule[] | undefined => {
    const byAction = Object.hasOwn(rules, type) ? rules[type] : undefined;
    const listed = byAction !== undefined && Object.hasOwn(byAction, action) ? byAction[action] : undefined;
    return listed === undefined ? undefined : Array.isArray(listed) ? listed : [listed as Rule];
  };

  function emit(
    principal: PolicyPrincipal,
    action: string,
    target: { type: string; id?: string },
    decision: Decision,
  ): void {
    if (options.audit === undefined) return;
    const event: AuditEvent = {
      time: new Date(now()).toISOString(),
      action: 'authz.decision',
      outcome: decision.allow ? 'success' : 'failure',
      component,
      actor: buildAuditActor(principal),
      target,
      decision: decision.allow ? 'allow' : 'deny',
      reason: decision.reason,
      details: { operation: action },
    };
    emitAuditEvent(options.audit, event, (err) => options.onAuditError?.(err));
  }

  return {
    authorize(principal, action, resource) {
      const rules = rulesFor(resource.type, action);
      let decision: Decision = {
        allow: false,
        reason: rules === undefined ? 'no rule for action' : 'no rule allows',
      };
      for (const rule of rules ?? []) {
        if (holds(evaluate(rule, principal), resource)) {
          decision = { allow: true, reason: describeRule(rule) };
          break;
        }
      }
      emit(
        principal,
        action,
        resource.id === undefined ? { type: resource.type } : { type: resource.type, id: resource.id },
        decision,
      );
      return decision;
    },

    filter(principal, action, resourceType) {
      const rules = rulesFor(resourceType, action);
      const evaluated = disjunction((rules ?? []).map((rule) => evaluate(rule, principal)));
      const filter: QueryFilter =
        evaluated === true
          ? { kind: 'all' }
          : evaluated === false
            ? { kind: 'none' }
            : { kind: 'where', condition: evaluated };
      emit(
        principal,
        action,
        { type: resourceType },
        {
          allow: filter.kind !== 'none',
          reason:
            filter.kind === 'where'
              ? 'filtered'
              : filter.kind === 'all'
                ? 'all'
                : rules === undefined
                  ? 'no rule for action'
                  : 'no rule allows',
        },
      );
      return filter;
    },
  };
}
