/**
 * The S/5 wire format from the monitor's side (reference §3.2), independent of src/:
 * flag 0x7E, stuffing of 7E/7D (checksum included), 8-bit sum; a receiver for requests.
 */
export function frame(record: Buffer): Buffer {
  let sum = 0;
  for (const b of record) sum = (sum + b) % 256;
  const out = [0x7e];
  for (const b of [...record, sum]) {
    if (b === 0x7e) out.push(0x7d, 0x5e);
    else if (b === 0x7d) out.push(0x7d, 0x5d);
    else out.push(b);
  }
  out.push(0x7e);
  return Buffer.from(out);
}

export class FrameReader {
  private cur: number[] = [];
  private esc = false;
  bad = 0;

  feed(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    for (const b of chunk) {
      if (b === 0x7e) {
        if (this.cur.length > 0) {
          const rec = this.cur.slice(0, -1);
          const sum = rec.reduce((a, x) => (a + x) % 256, 0);
          if (sum === this.cur[this.cur.length - 1] && rec.length >= 40 && (rec[0]! | (rec[1]! << 8)) === rec.length) out.push(Buffer.from(rec));
          else this.bad++;
        }
        this.cur = [];
        this.esc = false;
      } else if (b === 0x7d) this.esc = true;
      else {
        this.cur.push(this.esc ? b | 0x20 : b);
        this.esc = false;
        if (this.cur.length > 4096) this.cur = [];
      }
    }
    return out;
  }
}
