/**
 * Encoders for the simulated peripherals, written from the Bluetooth SIG characteristic
 * layouts and IEEE 11073-20601, independently of wardgate's parsers (nothing here is
 * imported from src/): what a real device's firmware would put on the air.
 */

/** SFLOAT: 4-bit exponent, 12-bit mantissa; `digits` decimals kept. */
export function sfloat(value: number, digits = 0): number {
  const mantissa = Math.round(value * 10 ** digits);
  if (mantissa > 2045 || mantissa < -2045) throw new RangeError(`SFLOAT mantissa out of range: ${mantissa}`);
  return (((-digits & 0x0f) << 12) | (mantissa & 0x0fff)) & 0xffff;
}

/** FLOAT: 8-bit exponent, 24-bit mantissa. */
export function float32(value: number, digits = 1): number {
  const mantissa = Math.round(value * 10 ** digits);
  return (((-digits & 0xff) << 24) | (mantissa & 0xffffff)) >>> 0;
}

export const SFLOAT_NAN = 0x07ff;

export class Bytes {
  private readonly out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >> 8);
  }
  u24(v: number): this {
    return this.u16(v).u8(v >> 16);
  }
  u32(v: number): this {
    return this.u16(v).u16(v >>> 16);
  }
  dateTime(d: Date): this {
    return this.u16(d.getFullYear())
      .u8(d.getMonth() + 1)
      .u8(d.getDate())
      .u8(d.getHours())
      .u8(d.getMinutes())
      .u8(d.getSeconds());
  }
  raw(b: Iterable<number>): this {
    for (const x of b) this.u8(x);
    return this;
  }
  done(): Buffer {
    return Buffer.from(this.out);
  }
}
