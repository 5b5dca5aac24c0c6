/**
 * Authorization rules as data, so one rule both decides on an object and becomes a query filter.
 * A list of rules means "any of them".
 */
export type Rule =
  /** `resource[field] === principal.sub` */
  | { readonly owner: string }
  /** `resource[field] === principal.tenant` (never true for a principal without tenant) */
  | { readonly tenant: string }
  /** the principal has one of these roles */
  | { readonly role: readonly string[] }
  /** the token grants every one of these scopes */
  | { readonly scope: readonly string[] }
  | { readonly all: readonly Rule[] }
  | { readonly any: readonly Rule[] };

export const owner = (field = 'ownerId'): Rule => ({ owner: field });
export const tenant = (field = 'tenantId'): Rule => ({ tenant: field });
export const role = (...roles: string[]): Rule => ({ role: roles });
export const scope = (...scopes: string[]): Rule => ({ scope: scopes });
export const allOf = (...rules: Rule[]): Rule => ({ all: rules });
export const anyOf = (...rules: Rule[]): Rule => ({ any: rules });

/** A short, stable description of a rule, used as the decision's reason. */
export function describeRule(rule: Rule): string {
  if ('owner' in rule) return `owner(${rule.owner})`;
  if ('tenant' in rule) return `tenant(${rule.tenant})`;
  if ('role' in rule) return `role(${rule.role.join('|')})`;
  if ('scope' in rule) return `scope(${rule.scope.join(' ')})`;
  if ('all' in rule) return `all(${rule.all.map(describeRule).join(', ')})`;
  return `any(${rule.any.map(describeRule).join(', ')})`;
}
