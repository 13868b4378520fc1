/**
 * The Nonin session: free-running frames, format 8 or 2 as configured, or recognised from the
 * stream (`auto`, the default): format 2's frames carry a checksum, so two of them settle it;
 * three format-8 frames while format 2 found none settle it the other way. Until then nothing is
 * counted as rejected; the winner's values are sent once it is known.
 */
import { AlarmEdges, technical } from '../alarm-edges.js';
import { type Decoded, emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { Format2Decoder, Format8Decoder, type NoninValues } from './decode.js';

type Format = 2 | 8 | 'auto';

class NoninSession implements Session {
  private dec: Format2Decoder | Format8Decoder | null = null;
  private probe: { f2: Format2Decoder; f8: Format8Decoder; n2: number; n8: number; v2: NoninValues[]; v8: NoninValues[] } | null = null;
  private readonly tech = new AlarmEdges();
  phase = 'listening';

  constructor(private readonly format: Format) {
    this.open();
  }

  open(): SessionOutput {
    this.dec = this.format === 2 ? new Format2Decoder() : this.format === 8 ? new Format8Decoder() : null;
    this.probe = this.dec ? null : { f2: new Format2Decoder(), f8: new Format8Decoder(), n2: 0, n8: 0, v2: [], v8: [] };
    this.phase = this.dec ? `format ${this.format}` : 'recognising the format';
    this.tech.reset();
    return emptyOutput();
  }

  data(chunk: Buffer): SessionOutput {
    const out = emptyOutput();
    if (!this.dec) {
      // Both decoders read the same bytes; the winner's values so far are kept (a few at most).
      const p = this.probe!;
      const r2 = p.f2.push(chunk);
      const r8 = p.f8.push(chunk);
      p.n2 += r2.frames;
      p.n8 += r8.frames;
      p.v2.push(...r2.values);
      p.v8.push(...r8.values);
      if (p.v2.length > 16) p.v2.splice(0, p.v2.length - 16);
      if (p.v8.length > 16) p.v8.splice(0, p.v8.length - 16);
      if (p.n2 >= 2) this.dec = p.f2;
      else if ((p.n8 >= 3 && p.n2 === 0) || p.n8 >= 10) this.dec = p.f8;
      if (!this.dec) return out;
      this.phase = `format ${this.dec === p.f2 ? 2 : 8}`;
      this.probe = null;
      out.frames += this.dec === p.f2 ? p.n2 : p.n8;
      this.emit(this.dec === p.f2 ? p.v2 : p.v8, out);
      return out;
    }
    const r = this.dec.push(chunk);
    out.rejects.push(...r.rejects);
    out.frames += r.frames;
    this.emit(r.values, out);
    return out;
  }

  private emit(values: readonly NoninValues[], out: SessionOutput): void {
    for (const v of values) {
      const q = v.questionable ? { quality: ['questionable' as const] } : {};
      const rs: Decoded[] = [];
      if (v.spo2 !== undefined) rs.push({ metric: 'spo2', value: v.spo2, unit: '%', ...q });
      if (v.hr !== undefined) rs.push({ metric: 'pulse_rate_oximeter', value: v.hr, unit: '/min', ...q });
      out.readings.push(...rs, ...this.tech.update(v.sensorOff ? [{ key: 'SENSOR_OFF', reading: technical('SENSOR_OFF') }] : []));
    }
  }

  tick(): SessionOutput {
    return emptyOutput();
  }
}

export const nonin: ProtocolDef = {
  name: 'nonin',
  settings: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false },
  pollIntervalMs: 1000,
  silenceTimeoutMs: 5000,
  tickMs: 1000,
  createSession: (o: SessionOptions) => new NoninSession(o.options?.format === 2 ? 2 : o.options?.format === 8 ? 8 : 'auto'),
};
