import { runServiceMain } from '@gatehouse/example-service-kit';
import { COMPONENT, createOrdersService } from './create-orders-service.js';

// Entry point: `node dist/main.js --config orders.json` (or GATEHOUSE_ORDERS_CONFIG).
await runServiceMain({ name: COMPONENT, configEnv: 'GATEHOUSE_ORDERS_CONFIG', create: createOrdersService });
