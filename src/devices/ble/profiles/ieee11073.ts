/**
 * IEEE 11073-20601 SFLOAT (16 bit) and FLOAT (32 bit), as the GATT health profiles send
 * them. The special values (NaN, NRes, +/-INFINITY, reserved) are quality states, never
 * numbers: they come back as `{ special }`, and nothing downstream may turn them into one.
 */

export type SpecialValue = 'nan' | 'nres' | 'pos_inf' | 'neg_inf' | 'reserved';

export type Decoded = { value: number } | { special: SpecialValue };

const SFLOAT_SPECIAL: Readonly<Record<number, SpecialValue>> = {
  2047: 'nan',
  2048: 'nres',
  2046: 'pos_inf',
  2050: 'neg_inf',
  2049: 'reserved',
};

const FLOAT_SPECIAL: Readonly<Record<number, SpecialValue>> = {
  8388607: 'nan',
  8388608: 'nres',
  8388606: 'pos_inf',
  8388610: 'neg_inf',
  8388609: 'reserved',
};

/**
 * mantissa x 10^exponent as the double nearest the decimal the device meant, so 364 x 10^-1
 * is exactly 36.4 (not 36.400000000000006), for every exponent (FLOAT's reach -128..127).
 */
function scale(mantissa: number, exponent: number): number {
  if (exponent === 0) return mantissa;
  return Number(`${mantissa}e${exponent}`);
}

/** Decodes a raw 16-bit SFLOAT (as read little-endian off the air). */
export function decodeSfloat(raw: number): Decoded {
  const special = SFLOAT_SPECIAL[raw & 0xffff];
  if (special !== undefined) return { special };
  let mantissa = raw & 0x0fff;
  if (mantissa >= 0x0800) mantissa -= 0x1000;
  let exponent = (raw >> 12) & 0x0f;
  if (exponent >= 0x08) exponent -= 0x10;
  return { value: scale(mantissa, exponent) };
}

/** Decodes a raw 32-bit FLOAT (as read little-endian off the air). */
export function decodeFloat(raw: number): Decoded {
  const u = raw >>> 0;
  const special = FLOAT_SPECIAL[u];
  if (special !== undefined) return { special };
  let mantissa = u & 0x00ffffff;
  if (mantissa >= 0x00800000) mantissa -= 0x01000000;
  let exponent = (u >>> 24) & 0xff;
  if (exponent >= 0x80) exponent -= 0x100;
  return { value: scale(mantissa, exponent) };
}
