/** The generic line session: free-running lines, one port, the port's line options. */
import { technical } from '../alarm-edges.js';
import { LineSplitter } from '../lines.js';
import { type Decoded, emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { type LineOptions, parseLine, WG1_KEYS } from './decode.js';

class LineSession implements Session {
  private readonly lines: LineSplitter;
  private readonly o: LineOptions;
  private readonly last = new Map<string, { value: number; unit?: string }>();
  phase = 'listening';

  constructor(opts: SessionOptions) {
    const o = (opts.options ?? {}) as Partial<LineOptions> & { maxLine?: number };
    this.o = { format: o.format ?? 'wg1', ...(o.separator ? { separator: o.separator } : {}), ...(o.fields ? { fields: o.fields } : {}) };
    this.lines = new LineSplitter(o.maxLine ?? 256);
  }

  open(): SessionOutput {
    this.lines.reset();
    return emptyOutput();
  }

  data(chunk: Buffer): SessionOutput {
    const out = emptyOutput();
    const { lines, tooLong } = this.lines.push(chunk);
    for (let i = 0; i < tooLong; i++) out.rejects.push('line_too_long');
    for (const text of lines) {
      if (text.trim() === '') continue;
      const r = parseLine(text, this.o);
      if (!r.ok) {
        out.rejects.push(r.reason);
        continue;
      }
      out.frames++;
      const at = r.time === undefined ? {} : { deviceTime: r.time };
      if (r.kind === 'values') {
        // A key the gateway has no metric for cannot become a reading: counted, the rest is sent.
        for (let i = 0; i < (r.unknown?.length ?? 0); i++) out.rejects.push('line_unknown_key');
        for (const v of r.values) {
          this.last.set(v.metric, v);
          out.readings.push({ metric: v.metric, value: v.value, ...(v.unit ? { unit: v.unit } : {}), ...at });
        }
        if (r.status !== undefined && r.status !== '0') out.readings.push({ ...technical(r.status.slice(0, 32)), ...at });
      } else {
        const metric = WG1_KEYS[r.code.split('_')[0] ?? '']?.metric;
        const last = metric ? this.last.get(metric) : undefined;
        const extra = { alarm: r.code.slice(0, 32), severity: r.priority, state: r.on ? 'on' : 'off' };
        const reading: Decoded =
          metric && last
            ? { metric, value: last.value, ...(last.unit ? { unit: last.unit } : {}), priorityClass: 'alarm', extra, ...at }
            : { metric: 'gateway_event', value: 1, unit: '1', priorityClass: 'alarm', extra, ...at };
        out.readings.push(reading);
      }
    }
    return out;
  }

  tick(): SessionOutput {
    return emptyOutput();
  }
}

export const line: ProtocolDef = {
  name: 'line',
  settings: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false },
  pollIntervalMs: 1000,
  silenceTimeoutMs: 10_000,
  tickMs: 1000,
  createSession: (o) => new LineSession(o),
};
