/**
 * IntelliVue MIB/RS232 framing (reference §2.2): 0xC0 | 11 01 LEN(be16) | user data | FCS(lo, hi) | 0xC1,
 * every byte between BOF and EOF escaped (C0/C1/7D -> 7D, b^0x20), FCS = CRC-16/X-25 over header and
 * user data before escaping. `7D` followed by BOF/EOF aborts the frame. Pure encoder; the decoder is a
 * small state machine over bytes with a bounded frame buffer.
 */
import { crc16x25 } from './crc.js';

const BOF = 0xc0;
const EOF = 0xc1;
const ESC = 0x7d;
/** Largest unescaped frame kept (header + user data + FCS); the monitor's MTU is 1456. */
const MAX_FRAME = 4096;

function escapeInto(out: number[], b: number): void {
  if (b === BOF || b === EOF || b === ESC) out.push(ESC, b ^ 0x20);
  else out.push(b);
}

/** BOF, the bytes and their FCS (low byte first), all escaped, EOF: the transport of §2.2 over any bytes (V-PH-1 and V-PH-2 frame bytes with no header). */
export function frameBytes(body: Uint8Array): Buffer {
  const fcs = crc16x25(body);
  const out: number[] = [BOF];
  for (const b of body) escapeInto(out, b);
  escapeInto(out, fcs & 0xff);
  escapeInto(out, fcs >>> 8);
  out.push(EOF);
  return Buffer.from(out);
}

/** Frames one Data Export message (the user data) behind the header 11 01 LEN. */
export function encodeFrame(userData: Uint8Array): Buffer {
  const body = Buffer.alloc(4 + userData.length);
  body[0] = 0x11;
  body[1] = 0x01;
  body.writeUInt16BE(userData.length, 2);
  body.set(userData, 4);
  return frameBytes(body);
}

export interface FrameResult {
  /** User data of each good frame. */
  frames: Buffer[];
  rejects: string[];
}

/** Byte stream -> user data of good frames; every bad frame or stray run is one reject. */
export class FrameDecoder {
  private readonly buf = Buffer.alloc(MAX_FRAME);
  private len = 0;
  private inFrame = false;
  private escaped = false;
  private overflow = false;
  private stray = false;

  push(chunk: Uint8Array): FrameResult {
    const frames: Buffer[] = [];
    const rejects: string[] = [];
    for (let i = 0; i < chunk.length; i++) {
      let b = chunk[i]!;
      if (b === BOF) {
        if (this.inFrame) rejects.push(this.escaped ? 'intellivue_abort' : 'intellivue_unterminated');
        else if (this.stray) rejects.push('intellivue_stray_bytes');
        this.stray = false;
        this.start();
        continue;
      }
      if (!this.inFrame) {
        this.stray = true;
        continue;
      }
      if (b === EOF) {
        this.inFrame = false;
        if (this.escaped) rejects.push('intellivue_abort');
        else if (this.overflow) rejects.push('intellivue_too_long');
        else {
          const r = checkFrame(this.buf.subarray(0, this.len));
          if (typeof r === 'string') rejects.push(r);
          else frames.push(r);
        }
        continue;
      }
      if (this.escaped) {
        this.escaped = false;
        b ^= 0x20;
      } else if (b === ESC) {
        this.escaped = true;
        continue;
      }
      if (this.len >= MAX_FRAME) this.overflow = true;
      else this.buf[this.len++] = b;
    }
    return { frames, rejects };
  }

  private start(): void {
    this.inFrame = true;
    this.len = 0;
    this.escaped = false;
    this.overflow = false;
  }

  reset(): void {
    this.inFrame = false;
    this.len = 0;
    this.escaped = false;
    this.overflow = false;
    this.stray = false;
  }
}

/** Checks header, length and FCS of an unescaped frame; returns a copy of its user data or a reason. */
function checkFrame(f: Buffer): Buffer | string {
  if (f.length < 6) return 'intellivue_short_frame';
  if (f[0] !== 0x11 || f[1] !== 0x01) return 'intellivue_bad_header';
  const n = f.readUInt16BE(2);
  if (n !== f.length - 6) return 'intellivue_bad_length';
  const fcs = f[f.length - 2]! | (f[f.length - 1]! << 8);
  if (crc16x25(f, 0, f.length - 2) !== fcs) return 'intellivue_bad_fcs';
  return Buffer.from(f.subarray(4, f.length - 2));
}
