export { type BleAdapterOptions, bleFamily } from './adapter.js';
export type { BleConfig, BleConfigInput } from './config.js';
