/**
 * The serial device family: bedside monitors and pulse oximeters on RS-232.
 *
 *   devices.serial.ports[]: { path, protocol: intellivue | ge-s5 | masimo | nonin | line, bed, ... }
 */
export { SerialAdapter, serialFamily } from './adapter.js';
export { SERIAL_PROTOCOLS, type SerialConfig, type SerialConfigInput, type SerialPortConfig, serialConfigSchema } from './config.js';
