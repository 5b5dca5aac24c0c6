export * from './store/index.js';
export * from './sinks/index.js';
export * from './reports/index.js';
export * from './privacy/index.js';
