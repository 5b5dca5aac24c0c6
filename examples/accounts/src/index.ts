export {
  createAccountsService,
  DEFAULT_AUDIENCE,
  type AccountsService,
  type AccountsServiceOptions,
} from './create-accounts-service.js';
export type { ServiceTls } from '@gatehouse/example-service-kit';
export type { Account } from './accounts/account-store.js';
