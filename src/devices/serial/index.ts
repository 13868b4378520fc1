/**
 * The serial device family: bedside monitors and pulse oximeters on RS-232.
 *
 *   devices.serial.ports[]: { path, protocol: intellivue | ge-s5 | masimo | nonin | line, bed, ... }
 */
export { serialFamily, SerialAdapter } from './adapter.js';
export { serialConfigSchema, SERIAL_PROTOCOLS, type SerialConfig, type SerialConfigInput, type SerialPortConfig } from './config.js';
