import { runServiceMain } from '@gatehouse/example-service-kit';
import { COMPONENT, createAccountsService } from './create-accounts-service.js';

// Entry point: `node dist/main.js --config accounts.json` (or GATEHOUSE_ACCOUNTS_CONFIG).
await runServiceMain({
  name: COMPONENT,
  configEnv: 'GATEHOUSE_ACCOUNTS_CONFIG',
  create: createAccountsService,
});
