/**
 * The S/5 session (reference §3.4, §3.7): ask for displayed values every poll interval
 * (at least 5 s) and for alarms in differential mode, then take the records the monitor
 * streams. Re-requesting after silence is the port worker's restart (a new session).
 */
import { type ActiveAlarm, AlarmEdges, technical } from '../alarm-edges.js';
import { emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { decodeAlarmMessage, decodePhysiological, decodeRecord } from './decode.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { alarmRequest, displRequest, MAINTYPE } from './request.js';

const SEVERITY = { 2: 'medium', 3: 'high' } as const;
/** phdb_class_bf: DRI_PHDBCL_REQ_EXT1_MASK (basic is sent unless 0x0001 is set). */
const CLASS_EXT1 = 0x0002;

export class GeS5Session implements Session {
  private readonly frames = new FrameDecoder();
  private readonly alarms = new AlarmEdges();
  private readonly tech = new AlarmEdges();
  phase = 'requesting';

  constructor(private readonly opts: SessionOptions) {}

  open(): SessionOutput {
    this.frames.reset();
    this.alarms.reset();
    this.tech.reset();
    this.phase = 'requesting';
    const out = emptyOutput();
    // Basic class and ext1 (§3.7: "basic class only, optionally ext1"): ext1 adds P7/P8, T5/T6, SpO2 channel 2, R-R time.
    out.writes.push(encodeFrame(displRequest(Math.max(5, Math.round(this.opts.pollIntervalMs / 1000)), CLASS_EXT1)), encodeFrame(alarmRequest(2)));
    return out;
  }

  close(): Buffer[] {
    return [encodeFrame(displRequest(0)), encodeFrame(alarmRequest(3))];
  }

  data(chunk: Buffer): SessionOutput {
    const out = emptyOutput();
    const f = this.frames.push(chunk);
    out.rejects.push(...f.rejects);
    for (const rec of f.frames) {
      const r = decodeRecord(rec);
      if (typeof r === 'string') {
        out.rejects.push(r);
        continue;
      }
      out.frames++;
      this.phase = 'receiving';
      if (r.maintype === MAINTYPE.phdb) {
        for (const sr of r.subrecords) {
          if (sr.type !== 1) continue; // displayed values; trends are not asked for
          const p = decodePhysiological(sr.data);
          if (typeof p === 'string') {
            out.rejects.push(p);
            continue;
          }
          for (const v of p.values) {
            // A marker is a reading with no number: its value-absent flag, and the reason and raw marker in extra.
            const extra = { ...(v.channel ? { channel: v.channel } : {}), ...(v.absent ? { reason: v.absent.reason, marker: v.absent.marker } : {}) };
            out.readings.push({
              metric: v.metric,
              value: v.value,
              unit: v.unit,
              deviceTime: p.time,
              ...(v.absent ? { quality: [v.absent.flag] } : {}),
              ...(Object.keys(extra).length ? { extra } : {}),
            });
          }
        }
      } else if (r.maintype === MAINTYPE.alarm) {
        for (const sr of r.subrecords) {
          if (sr.type !== 1) continue;
          const as = decodeAlarmMessage(sr.data);
          if (typeof as === 'string') {
            out.rejects.push(as);
            continue;
          }
          const patient: ActiveAlarm[] = [];
          const tech: ActiveAlarm[] = [];
          for (const a of as) {
            const text = a.text.slice(0, 40);
            // White boxes are technical messages (leads off, sensor off); yellow and red are alarms.
            if (a.color === 1) tech.push({ key: text, reading: { ...technical('GE_MESSAGE', { text }), deviceTime: r.rTime * 1000 } });
            else
              patient.push({
                key: text,
                reading: {
                  metric: 'gateway_event',
                  value: 1,
                  unit: '1',
                  priorityClass: 'alarm',
                  deviceTime: r.rTime * 1000,
                  extra: { alarm: text, severity: SEVERITY[a.color as 2 | 3] ?? 'high' },
                },
              });
          }
          out.readings.push(...this.alarms.update(patient), ...this.tech.update(tech));
        }
      }
    }
    return out;
  }

  tick(): SessionOutput {
    return emptyOutput();
  }
}

export const geS5: ProtocolDef = {
  name: 'ge-s5',
  settings: { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: true },
  pollIntervalMs: 5000,
  silenceTimeoutMs: 15_000,
  tickMs: 1000,
  createSession: (o) => new GeS5Session(o),
};
