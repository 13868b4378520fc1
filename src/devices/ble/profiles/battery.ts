/** Battery Level (0x2A19): exactly one octet, a percentage 0-100. Anything else is refused. */
import { type ParseResult, reject } from './types.js';

export function parseBatteryLevel(b: Uint8Array): ParseResult {
  if (b.length !== 1) return reject('battery_length');
  const v = b[0]!;
  if (v > 100) return reject('battery_range');
  return { ok: true, readings: [{ metric: 'battery_level', unit: '%', value: v }] };
}
