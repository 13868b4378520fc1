/**
 * The IntelliVue wire format from the monitor's side, written from the protocol description
 * (reference §2.2) and independent of src/: a bit-by-bit CRC-16/X-25, transparency applied to
 * header, data and FCS, and a receiver that unescapes and checks the FCS.
 */
export function fcs(bytes: number[]): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    let x = byte;
    for (let bit = 0; bit < 8; bit++) {
      const mix = (crc ^ x) & 1;
      crc >>>= 1;
      if (mix) crc ^= 0x8408;
      x >>>= 1;
    }
  }
  return ~crc & 0xffff;
}

export function frame(userData: Buffer): Buffer {
  return transport([0x11, 0x01, userData.length >> 8, userData.length & 0xff, ...userData]);
}

/** 0xC0, the bytes and their FCS (low byte first) with transparency applied to every one, 0xC1. */
export function transport(bytes: number[]): Buffer {
  const inner = [...bytes];
  const f = fcs(inner);
  inner.push(f & 0xff, f >> 8);
  const out = [0xc0];
  for (const b of inner) {
    if (b === 0xc0 || b === 0xc1 || b === 0x7d) out.push(0x7d, b ^ 0x20);
    else out.push(b);
  }
  out.push(0xc1);
  return Buffer.from(out);
}

/** Collects frames from the gateway; returns the user data of frames whose FCS holds. */
export class FrameReader {
  private cur: number[] | null = null;
  private esc = false;
  bad = 0;

  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const b of chunk) {
      if (b === 0xc0) {
        this.cur = [];
        this.esc = false;
      } else if (b === 0xc1) {
        const c = this.cur;
        this.cur = null;
        if (!c || c.length < 6) continue;
        const body = c.slice(0, -2);
        const got = c[c.length - 2]! | (c[c.length - 1]! << 8);
        if (fcs(body) !== got || body[0] !== 0x11 || ((body[2]! << 8) | body[3]!) !== body.length - 4) this.bad++;
        else out.push(Buffer.from(body.slice(4)));
      } else if (this.cur) {
        if (this.esc) {
          this.cur.push(b ^ 0x20);
          this.esc = false;
        } else if (b === 0x7d) this.esc = true;
        else if (this.cur.length < 8192) this.cur.push(b);
      }
    }
    return out;
  }
}

/** FLOAT-Type: value with `decimals` digits after the point -> exponent -decimals, 24-bit mantissa. */
export function float32(value: number, decimals: number): number {
  const mantissa = Math.round(value * 10 ** decimals);
  return (((-decimals & 0xff) << 24) | (mantissa & 0xffffff)) >>> 0;
}

export const bcd = (n: number): number => ((Math.floor(n / 10) % 10) << 4) | (n % 10);

/** 8-byte BCD absolute time of a local Date: century, year, month, day, hour, min, sec, fraction 0. */
export function bcdTime(d: Date): Buffer {
  const y = d.getFullYear();
  return Buffer.from([
    bcd(Math.floor(y / 100)),
    bcd(y % 100),
    bcd(d.getMonth() + 1),
    bcd(d.getDate()),
    bcd(d.getHours()),
    bcd(d.getMinutes()),
    bcd(d.getSeconds()),
    0,
  ]);
}

/** A big-endian byte writer. */
export class W {
  private readonly parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  bytes(b: Buffer | number[]): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  /** u16 length then the bytes. */
  counted(b: Buffer): this {
    return this.u16(b.length).bytes(b);
  }
  get length(): number {
    return this.parts.length;
  }
  buf(): Buffer {
    return Buffer.from(this.parts);
  }
}
