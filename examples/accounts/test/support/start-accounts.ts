import { startServiceHarness, type ServiceHarness } from '@gatehouse/example-service-kit/testing';
import { createAccountsService } from '../../src/index.js';

export const AUDIENCE = 'https://accounts.internal';

export type AccountsHarness = ServiceHarness;

/** The accounts service on port 0, an in-memory database, a static JWKS and the frozen clock. */
export const startAccounts = (): Promise<AccountsHarness> =>
  startServiceHarness({ component: 'accounts', audience: AUDIENCE, create: createAccountsService });
