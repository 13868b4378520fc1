/**
 * Nonin serial data formats (reference §5.3). Pure framers:
 *  - #8: 4-byte frames, 1/s, no checksum: STATUS (bit 7 set, only here), HR bits 6-0, SpO2, STATUS2;
 *    HR is 9 bits (bits 8-7 in STATUS bits 1-0). Missing: HR 511, SpO2 127.
 *  - #2: 5-byte frames `01 STATUS PLETH FLOAT CHK`, CHK = sum of the first four mod 256, 25 frames a
 *    packet (STATUS bit 0 marks frame 1); HR MSB/LSB in frames 1/2 (2+7 bits), SpO2 in frame 3.
 * Resynchronisation drops one byte at a time; each run of dropped bytes is one reject.
 */
export interface NoninValues {
  hr?: number;
  spo2?: number;
  sensorOff: boolean;
  questionable: boolean;
}

export interface NoninResult {
  values: NoninValues[];
  rejects: string[];
  frames: number;
}

export class Format8Decoder {
  private readonly buf = Buffer.alloc(4);
  private len = 0;
  private dropping = false;

  push(chunk: Uint8Array): NoninResult {
    const out: NoninResult = { values: [], rejects: [], frames: 0 };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b & 0x80) {
        // Bit 7 marks byte 1 only: a frame cut short by a new start is dropped.
        if (this.len > 0) this.reject(out);
        this.buf[0] = b;
        this.len = 1;
        continue;
      }
      if (this.len === 0) {
        this.reject(out);
        continue;
      }
      this.buf[this.len++] = b;
      if (this.len < 4) continue;
      this.len = 0;
      this.dropping = false;
      out.frames++;
      const s = this.buf[0]!;
      const hr = ((s & 0x03) << 7) | this.buf[1]!;
      const spo2 = this.buf[2]!;
      const v: NoninValues = { sensorOff: (s & 0x40) !== 0, questionable: (s & 0x24) !== 0 };
      if (hr !== 511) v.hr = hr;
      if (spo2 !== 127) v.spo2 = spo2;
      out.values.push(v);
    }
    return out;
  }

  private reject(out: NoninResult): void {
    if (!this.dropping) out.rejects.push('nonin_resync');
    this.dropping = true;
  }
}

export class Format2Decoder {
  private readonly buf = Buffer.alloc(5);
  private len = 0;
  private dropping = false;
  private frameNo = 0;
  private hrMsb = -1;
  private hrLsb = -1;
  private status = 0;

  push(chunk: Uint8Array): NoninResult {
    const out: NoninResult = { values: [], rejects: [], frames: 0 };
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.len === 0 && b !== 0x01) {
        this.drop(out);
        continue;
      }
      this.buf[this.len++] = b;
      if (this.len < 5) {
        if (this.buf[0] !== 0x01 || (this.len >= 2 && (this.buf[1]! & 0x80) === 0)) this.drop(out);
        continue;
      }
      const sum = (this.buf[0]! + this.buf[1]! + this.buf[2]! + this.buf[3]!) & 0xff;
      if (sum !== this.buf[4]) {
        this.drop(out);
        continue;
      }
      this.len = 0;
      this.dropping = false;
      out.frames++;
      this.frame(this.buf[1]!, this.buf[3]!, out);
    }
    return out;
  }

  private drop(out: NoninResult): void {
    if (!this.dropping) out.rejects.push('nonin_resync');
    this.dropping = true;
    // Restart at the next 0x01 in what we hold, else empty.
    if (this.len <= 1) {
      this.len = 0;
      this.frameNo = 0;
      return;
    }
    const next = this.buf.subarray(1, this.len).indexOf(0x01);
    if (next === -1) this.len = 0;
    else {
      this.buf.copy(this.buf, 0, next + 1, this.len);
      this.len -= next + 1;
    }
    this.frameNo = 0; // the packet position is unknown until the next SYNC frame
  }

  private frame(status: number, float: number, out: NoninResult): void {
    if (status & 0x01) {
      this.frameNo = 1;
      this.status = 0;
    } else if (this.frameNo > 0) this.frameNo++;
    if (this.frameNo === 0) return;
    this.status |= status;
    if (this.frameNo === 1) this.hrMsb = float;
    else if (this.frameNo === 2) this.hrLsb = float;
    else if (this.frameNo === 3) {
      const hr = ((this.hrMsb & 0x03) << 7) | (this.hrLsb & 0x7f);
      const v: NoninValues = { sensorOff: (this.status & 0x40) !== 0, questionable: (this.status & 0x30) !== 0 };
      if (hr !== 511) v.hr = hr;
      if (float !== 127) v.spo2 = float;
      out.values.push(v);
    }
  }

  reset(): void {
    this.len = 0;
    this.frameNo = 0;
    this.dropping = false;
  }
}
