/**
 * GE/Datex-Ohmeda S/5 computer-interface framing (reference §3.2): 0x7E | stuffed(record,
 * checksum) | 0x7E, stuffing 7E -> 7D 5E and 7D -> 7D 5D (checksum byte included), checksum =
 * 8-bit sum of the record's bytes before stuffing. Every 0x7E delimits: what lies between two
 * is a candidate frame (empty ones are the flag pairs between frames). Pure encoder; the
 * decoder keeps at most MAX_FRAME bytes.
 */
const FLAG = 0x7e;
const ESC = 0x7d;
/** r_len is at most 40 + 1450; anything longer is not a record. */
const MAX_FRAME = 1600;

export function checksum(b: Uint8Array, start = 0, end = b.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + b[i]!) & 0xff;
  return s;
}

export function encodeFrame(record: Uint8Array): Buffer {
  const out: number[] = [FLAG];
  const put = (b: number): void => {
    if (b === FLAG || b === ESC) out.push(ESC, b & ~0x20);
    else out.push(b);
  };
  for (const b of record) put(b);
  put(checksum(record));
  out.push(FLAG);
  return Buffer.from(out);
}

export interface FrameResult {
  /** The records (checksum removed) of good frames. */
  frames: Buffer[];
  rejects: string[];
}

export class FrameDecoder {
  private readonly buf = Buffer.alloc(MAX_FRAME);
  private len = 0;
  private escaped = false;
  private overflow = false;
  private badEscape = false;
  /** Bytes seen since the last flag (also counts bytes before the first flag). */
  private seen = 0;

  push(chunk: Uint8Array): FrameResult {
    const frames: Buffer[] = [];
    const rejects: string[] = [];
    for (let i = 0; i < chunk.length; i++) {
      let b = chunk[i]!;
      if (b === FLAG) {
        if (this.seen > 0) {
          const r = this.finish();
          if (typeof r === 'string') rejects.push(r);
          else frames.push(r);
        }
        this.reset();
        continue;
      }
      this.seen++;
      if (this.escaped) {
        this.escaped = false;
        if (b !== 0x5e && b !== 0x5d) this.badEscape = true;
        b |= 0x20;
      } else if (b === ESC) {
        this.escaped = true;
        continue;
      }
      if (this.len >= MAX_FRAME) this.overflow = true;
      else this.buf[this.len++] = b;
    }
    return { frames, rejects };
  }

  private finish(): Buffer | string {
    if (this.overflow) return 'ge_too_long';
    if (this.escaped || this.badEscape) return 'ge_bad_escape';
    if (this.len < 41) return 'ge_short_frame';
    const n = this.len - 1;
    if (checksum(this.buf, 0, n) !== this.buf[n]) return 'ge_bad_checksum';
    if (this.buf.readUInt16LE(0) !== n) return 'ge_bad_length';
    return Buffer.from(this.buf.subarray(0, n));
  }

  reset(): void {
    this.len = 0;
    this.escaped = false;
    this.overflow = false;
    this.badEscape = false;
    this.seen = 0;
  }
}
