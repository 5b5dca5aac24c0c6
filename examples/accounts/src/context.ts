import type { Policy } from '@gatehouse/guard';
import type { AccountStore } from './accounts/account-store.js';
import type { AuditLog } from './audit/audit-log.js';

/** What the actions of the accounts service share. */
export interface AccountsContext {
  readonly accounts: AccountStore;
  readonly policy: Policy;
  readonly auditLog: AuditLog;
}
