/**
 * Dräger MEDIBUS slow-protocol framing (reference §4.2): a command `ESC code [args] CHK CR`, a
 * response `SOH code [data] CHK CR`, CHK = the low 8 bits of the sum of every byte from ESC/SOH to
 * the last data byte, as two upper-case hex characters. A command may sit inside a response (its
 * checksum is its own). Realtime bytes (>= 0x80) are dropped before framing; DC1/DC3 (XON/XOFF)
 * are skipped; CAN aborts the message in progress. Pure; frames are at most MAX_FRAME bytes.
 */
const ESC = 0x1b;
const SOH = 0x01;
const CR = 0x0d;
export const NAK = 0x15;
const MAX_FRAME = 4096;

export interface MedibusFrame {
  kind: 'command' | 'response';
  code: number;
  /** The characters between the code and the checksum. */
  data: string;
}

const hex2 = (n: number): string => (n & 0xff).toString(16).toUpperCase().padStart(2, '0');

export function encode(kind: 'command' | 'response', code: number, data = ''): Buffer {
  const body = Buffer.concat([Buffer.from([kind === 'command' ? ESC : SOH, code]), Buffer.from(data, 'latin1')]);
  let sum = 0;
  for (const b of body) sum += b;
  return Buffer.concat([body, Buffer.from(hex2(sum), 'latin1'), Buffer.from([CR])]);
}

class Acc {
  bytes: number[] = [];
  overflow = false;
  push(b: number): void {
    if (this.bytes.length >= MAX_FRAME) this.overflow = true;
    else this.bytes.push(b);
  }
}

function finish(a: Acc): MedibusFrame | string {
  if (a.overflow) return 'medibus_too_long';
  const b = a.bytes;
  if (b.length < 4) return 'medibus_short_frame';
  let sum = 0;
  for (let i = 0; i < b.length - 2; i++) sum += b[i]!;
  const chk = String.fromCharCode(b[b.length - 2]!, b[b.length - 1]!);
  if (chk !== hex2(sum)) return 'medibus_bad_checksum';
  return { kind: b[0] === ESC ? 'command' : 'response', code: b[1]!, data: Buffer.from(b.slice(2, -2)).toString('latin1') };
}

export class FrameDecoder {
  private resp: Acc | null = null;
  private cmd: Acc | null = null;
  private stray = false;

  push(chunk: Uint8Array): { frames: MedibusFrame[]; rejects: string[] } {
    const frames: MedibusFrame[] = [];
    const rejects: string[] = [];
    const done = (r: MedibusFrame | string): void => {
      if (typeof r === 'string') rejects.push(r);
      else frames.push(r);
    };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b >= 0x80 || b === 0x11 || b === 0x13) continue; // realtime data, XON/XOFF
      if (b === 0x18) {
        // CAN: abort the message in progress
        if (this.cmd) this.cmd = null;
        else this.resp = null;
        continue;
      }
      if (b === ESC) {
        if (this.cmd) rejects.push('medibus_unterminated');
        this.flushStray(rejects);
        this.cmd = new Acc();
        this.cmd.push(b);
      } else if (b === SOH) {
        if (this.cmd) {
          rejects.push('medibus_unterminated');
          this.cmd = null;
        }
        if (this.resp) rejects.push('medibus_unterminated');
        this.flushStray(rejects);
        this.resp = new Acc();
        this.resp.push(b);
      } else if (b === CR) {
        if (this.cmd) {
          done(finish(this.cmd));
          this.cmd = null;
        } else if (this.resp) {
          done(finish(this.resp));
          this.resp = null;
        } else this.stray = true;
      } else if (this.cmd) this.cmd.push(b);
      else if (this.resp) this.resp.push(b);
      else this.stray = true;
    }
    return { frames, rejects };
  }

  private flushStray(rejects: string[]): void {
    if (this.stray) rejects.push('medibus_stray_bytes');
    this.stray = false;
  }

  reset(): void {
    this.resp = this.cmd = null;
    this.stray = false;
  }
}
