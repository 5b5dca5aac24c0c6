import {
  createResourceService,
  registerGuarded,
  type ResourceService,
  type ResourceServiceOptions,
} from '@gatehouse/example-service-kit';
import { createAccountStore } from './accounts/account-store.js';
import { createAccountsPolicy } from './auth/accounts-policy.js';
import { createAccountsAudit } from './audit/audit-log.js';
import { createAccount } from './actions/create-account.js';
import { getAccount } from './actions/get-account.js';
import { listAccounts } from './actions/list-accounts.js';
import { listAuditEvents } from './actions/list-audit-events.js';
import { updateAccount } from './actions/update-account.js';
import type { AccountsContext } from './context.js';
import { migrations } from './db/migrations.js';
import type { AccountsDatabase } from './db/schema.js';

export const COMPONENT = 'accounts';
export const DEFAULT_AUDIENCE = 'https://accounts.internal';

/** The kit's options; `audience` defaults to `https://accounts.internal`. */
export type AccountsServiceOptions = ResourceServiceOptions;
export type AccountsService = ResourceService;

/** The demo accounts service (see README): the kit's mTLS shell with the accounts routes. */
export function createAccountsService(options: AccountsServiceOptions): AccountsService {
  return createResourceService<AccountsDatabase>(
    {
      component: COMPONENT,
      defaultAudience: DEFAULT_AUDIENCE,
      migrations,
      setup({ db, logger, now, forward }) {
        const auditLog = createAccountsAudit(db, logger, forward);
        const context: AccountsContext = {
          accounts: createAccountStore(db, now),
          policy: createAccountsPolicy(auditLog.sink, now, COMPONENT),
          auditLog,
        };
        return {
          audit: auditLog.sink,
          register(app, guard) {
            registerGuarded(app, guard, ['accounts:read'], (routes) => {
              routes.get('/api/accounts', listAccounts(context));
              routes.get('/api/accounts/:id', getAccount(context));
            });
            registerGuarded(app, guard, ['accounts:write'], (routes) => {
              routes.post('/api/accounts', createAccount(context));
              routes.patch('/api/accounts/:id', updateAccount(context));
            });
            registerGuarded(app, guard, ['admin'], (routes) => {
              routes.get('/api/admin/audit', listAuditEvents(context));
            });
          },
        };
      },
    },
    options,
  );
}
