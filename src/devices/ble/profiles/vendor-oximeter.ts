/**
 * An example vendor decoder: a finger oximeter that sends SpO2 and pulse rate on its own
 * characteristic instead of the PLX profile. Frame: 0xA5, SpO2 (uint8 %, 0x7F = no
 * finger), pulse rate (uint16 /min, 0x01FF = no finger), perfusion index (uint8, 0.1 %),
 * checksum (low byte of the sum of the four octets before it). Adding a device like this
 * is this file plus one `registerDecoder` call.
 */
import { registerDecoder } from './index.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

const VENDOR_OXIMETER = {
  service: '6e400001-b5a3-f393-e0a9-e50e24dcca9e',
  characteristic: '6e400003-b5a3-f393-e0a9-e50e24dcca9e',
} as const;

export function parseVendorOximeter(b: Uint8Array): ParseResult {
  if (b.length < 6) return reject('too_short');
  if (b[0] !== 0xa5) return reject('bad_header');
  if (((b[0]! + b[1]! + b[2]! + b[3]! + b[4]!) & 0xff) !== b[5]) return reject('bad_checksum');
  const spo2 = b[1]!;
  const pr = b[2]! | (b[3]! << 8);
  const extra = { perfusionIndex: b[4]! / 10 };
  const out: ProfileReading[] = [];
  // "No finger" is an absent value, not a number.
  out.push(spo2 === 0x7f ? { metric: 'spo2', unit: '%', special: 'nan', extra } : { metric: 'spo2', unit: '%', value: spo2, extra });
  out.push(
    pr === 0x01ff ? { metric: 'pulse_rate_oximeter', unit: '/min', special: 'nan', extra } : { metric: 'pulse_rate_oximeter', unit: '/min', value: pr, extra },
  );
  return { ok: true, readings: out };
}

/** Registers the example decoder (the adapter does so when `devices.ble.vendorDecoders` names it). */
export function registerVendorOximeter(): void {
  registerDecoder({ name: 'vendor_oximeter', ...VENDOR_OXIMETER, parse: parseVendorOximeter });
}
