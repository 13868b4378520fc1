export { BleAdapter, bleFamily, type BleAdapterOptions } from './adapter.js';
export { bleConfigSchema, type BleConfig, type BleConfigInput } from './config.js';
