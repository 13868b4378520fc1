export { BleAdapter, type BleAdapterOptions, bleFamily } from './adapter.js';
export { type BleConfig, type BleConfigInput, bleConfigSchema } from './config.js';
