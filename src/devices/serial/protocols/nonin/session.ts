/** The Nonin session: free-running frames (format 8 by default, `format: 2` for OEM III modules). */
import { AlarmEdges, technical } from '../alarm-edges.js';
import { emptyOutput, type Decoded, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { Format2Decoder, Format8Decoder } from './decode.js';

class NoninSession implements Session {
  private dec: Format2Decoder | Format8Decoder;
  private readonly tech = new AlarmEdges();
  phase = 'listening';

  constructor(private readonly format: 2 | 8) {
    this.dec = format === 2 ? new Format2Decoder() : new Format8Decoder();
  }

  open(): SessionOutput {
    this.dec = this.format === 2 ? new Format2Decoder() : new Format8Decoder();
    this.tech.reset();
    return emptyOutput();
  }

  data(chunk: Buffer): SessionOutput {
    const out = emptyOutput();
    const r = this.dec.push(chunk);
    out.rejects.push(...r.rejects);
    out.frames += r.frames;
    for (const v of r.values) {
      const q = v.questionable ? { quality: ['questionable' as const] } : {};
      const rs: Decoded[] = [];
      if (v.spo2 !== undefined) rs.push({ metric: 'spo2', value: v.spo2, unit: '%', ...q });
      if (v.hr !== undefined) rs.push({ metric: 'pulse_rate_oximeter', value: v.hr, unit: '/min', ...q });
      out.readings.push(...rs, ...this.tech.update(v.sensorOff ? [{ key: 'SENSOR_OFF', reading: technical('SENSOR_OFF') }] : []));
    }
    return out;
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
  createSession: (o: SessionOptions) => new NoninSession(o.options?.format === 2 ? 2 : 8),
};
