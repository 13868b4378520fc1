/** The Masimo session: free-running lines (nothing to send), values, alarm and exception edges. */
import { type ActiveAlarm, AlarmEdges, technical } from '../alarm-edges.js';
import { LineSplitter } from '../lines.js';
import { type Decoded, emptyOutput, type ProtocolDef, type Session, type SessionOutput } from '../types.js';
import { MASIMO_ALARM_SILENCED, MASIMO_ALARMS, MASIMO_QUESTIONABLE, MASIMO_TECHNICAL, type MasimoLine, parseMasimoLine } from './decode.js';

function masimoReadings(l: MasimoLine): { values: Decoded[]; alarms: ActiveAlarm[]; technical: ActiveAlarm[] } {
  const quality = l.exc !== undefined && (l.exc & MASIMO_QUESTIONABLE) !== 0 ? (['questionable'] as const) : undefined;
  const values: Decoded[] = [];
  const base = { deviceTime: l.deviceTime, ...(quality ? { quality: [...quality] } : {}) };
  if (l.spo2 !== undefined) values.push({ metric: 'spo2', value: l.spo2, unit: '%', ...base });
  if (l.bpm !== undefined) values.push({ metric: 'pulse_rate_oximeter', value: l.bpm, unit: '/min', ...base });
  if (l.pi !== undefined) values.push({ metric: 'perfusion_index', value: l.pi, unit: '%', ...base });
  const alarms: ActiveAlarm[] = [];
  const silenced = l.alarm !== undefined && (l.alarm & MASIMO_ALARM_SILENCED) !== 0;
  for (const a of MASIMO_ALARMS) {
    if (l.alarm === undefined || (l.alarm & a.bit) === 0) continue;
    const v = a.metric === 'spo2' ? l.spo2 : l.bpm;
    alarms.push({
      key: a.code,
      reading:
        v !== undefined
          ? {
              metric: a.metric,
              value: v,
              unit: a.metric === 'spo2' ? '%' : '/min',
              deviceTime: l.deviceTime,
              priorityClass: 'alarm',
              extra: { alarm: a.code, severity: a.priority, silenced },
            }
          : {
              metric: 'gateway_event',
              value: 1,
              unit: '1',
              deviceTime: l.deviceTime,
              priorityClass: 'alarm',
              extra: { alarm: a.code, severity: a.priority, silenced },
            },
    });
  }
  const tech: ActiveAlarm[] = [];
  for (const t of MASIMO_TECHNICAL)
    if (l.exc !== undefined && (l.exc & t.bit) !== 0) tech.push({ key: t.code, reading: { ...technical(t.code), deviceTime: l.deviceTime } });
  return { values, alarms, technical: tech };
}

class MasimoSession implements Session {
  private readonly lines = new LineSplitter(512);
  private readonly alarms = new AlarmEdges();
  private readonly tech = new AlarmEdges();
  phase = 'listening';

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
      const r = parseMasimoLine(text);
      if (!r.ok) {
        out.rejects.push(r.reason);
        continue;
      }
      out.frames++;
      const parsed = masimoReadings(r.line);
      out.readings.push(...parsed.values, ...this.alarms.update(parsed.alarms), ...this.tech.update(parsed.technical));
    }
    return out;
  }

  tick(): SessionOutput {
    return emptyOutput();
  }
}

export const masimo: ProtocolDef = {
  name: 'masimo',
  settings: { baudRate: 9600, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false },
  pollIntervalMs: 1000,
  silenceTimeoutMs: 5000,
  tickMs: 1000,
  createSession: () => new MasimoSession(),
};
