/**
 * Little-endian reads for profile parsers. Callers check lengths first (from the flags),
 * so these never run past the end.
 */
import { type Decoded, decodeFloat, decodeSfloat } from './ieee11073.js';

export const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
export const s16 = (b: Uint8Array, o: number): number => (u16(b, o) << 16) >> 16;
export const u24 = (b: Uint8Array, o: number): number => u16(b, o) | (b[o + 2]! << 16);
const u32 = (b: Uint8Array, o: number): number => (u24(b, o) | (b[o + 3]! << 24)) >>> 0;
export const sfloat = (b: Uint8Array, o: number): Decoded => decodeSfloat(u16(b, o));
export const float32 = (b: Uint8Array, o: number): Decoded => decodeFloat(u32(b, o));

/**
 * A Bluetooth Date Time (7 octets) as ms since the epoch in the gateway's local time zone
 * (BLE timestamps carry no zone), or undefined when year, month or day is 0 (unknown) or
 * a field is out of range.
 */
export function dateTime(b: Uint8Array, o: number): number | undefined {
  const year = u16(b, o);
  const month = b[o + 2]!;
  const day = b[o + 3]!;
  const hours = b[o + 4]!;
  const minutes = b[o + 5]!;
  const seconds = b[o + 6]!;
  if (year === 0 || month === 0 || day === 0) return undefined;
  if (year < 1582 || year > 9999 || month > 12 || day > 31 || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const t = new Date(year, month - 1, day, hours, minutes, seconds).getTime();
  return Number.isFinite(t) ? t : undefined;
}
