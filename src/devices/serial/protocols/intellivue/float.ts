/**
 * IEEE 11073 FLOAT-Type (reference §2.5): signed 8-bit exponent, signed 24-bit mantissa,
 * value = mantissa x 10^exponent. Special values are recognised by the mantissa alone.
 */
export type FloatValue = { value: number } | { special: 'nan' | 'nres' | '+inf' | '-inf' };

export function decodeFloat(u32: number): FloatValue {
  const m = u32 & 0xffffff;
  if (m === 0x7fffff) return { special: 'nan' };
  if (m === 0x800000) return { special: 'nres' };
  if (m === 0x7ffffe) return { special: '+inf' };
  if (m === 0x800002) return { special: '-inf' };
  const mantissa = m & 0x800000 ? m - 0x1000000 : m;
  const exp = ((u32 >>> 24) << 24) >> 24;
  // Round to the precision the exponent gives, so 367e-1 is 36.7, not 36.699999.
  const v = exp >= 0 ? mantissa * 10 ** exp : Number((mantissa / 10 ** -exp).toFixed(Math.min(20, -exp)));
  return { value: v };
}
