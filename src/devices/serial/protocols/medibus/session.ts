/**
 * The MEDIBUS session, the gateway as the "PC" (reference §4.3, §4.6): send ICC; answer every
 * command the device sends (ICC, NOP, device id, anything else with an empty echo); once the link
 * is up, request measured data (0x24) and current alarms (0x27) every poll interval and a NOP when
 * idle for 2 s. The worker's silence restart re-sends ICC after a gap.
 */
import { type ActiveAlarm, AlarmEdges } from '../alarm-edges.js';
import { emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { alarms, CP1_METRIC, measuredData, severity } from './decode.js';
import { encode, FrameDecoder, NAK } from './frame.js';

const CMD = { nop: 0x30, icc: 0x51, deviceId: 0x52, stop: 0x55, data: 0x24, alarms: 0x27 } as const;
/** Our answer to the device-id request: id 0161, a name in apostrophes, DD.DD:MM.MM versions (V-MB-4 layout). */
const DEVICE_ID = "0161'wardgate'01.00:01.00";

const ICC_RETRY_MS = 3000;
const NOP_IDLE_MS = 2000;

class MedibusSession implements Session {
  private readonly frames = new FrameDecoder();
  private readonly edges = new AlarmEdges();
  phase: 'connecting' | 'linked' = 'connecting';
  private sentAt = 0;
  private lastPoll = 0;

  constructor(private readonly opts: SessionOptions) {}

  open(now: number): SessionOutput {
    this.frames.reset();
    this.edges.reset();
    this.phase = 'connecting';
    this.sentAt = now;
    const out = emptyOutput();
    out.writes.push(encode('command', CMD.icc));
    return out;
  }

  close(): Buffer[] {
    return this.phase === 'linked' ? [encode('command', CMD.stop)] : [];
  }

  data(chunk: Buffer, now: number): SessionOutput {
    const out = emptyOutput();
    const f = this.frames.push(chunk);
    out.rejects.push(...f.rejects);
    for (const fr of f.frames) {
      out.frames++;
      if (fr.kind === 'command') {
        // Every command must be answered, at least with an empty echo.
        out.writes.push(fr.code === CMD.deviceId ? encode('response', fr.code, DEVICE_ID) : encode('response', fr.code));
        this.sentAt = now;
        if (fr.code === CMD.icc || fr.code === CMD.nop) this.link(now, out);
        if (fr.code === CMD.stop) this.phase = 'connecting';
        continue;
      }
      if (fr.code === CMD.icc) this.link(now, out);
      else if (fr.code === NAK) out.rejects.push('medibus_nak');
      else if (fr.code === CMD.data) {
        const vs = measuredData(fr.data);
        if (typeof vs === 'string') out.rejects.push(vs);
        else
          for (const v of vs) {
            const m = CP1_METRIC.get(v.code);
            if (m) out.readings.push({ metric: m.metric, value: v.value, unit: m.unit });
          }
      } else if (fr.code === CMD.alarms) {
        const as = alarms(fr.data);
        if (typeof as === 'string') {
          out.rejects.push(as);
          continue;
        }
        const active: ActiveAlarm[] = as.map((a) => ({
          key: a.code.toString(16),
          reading: {
            metric: 'gateway_event',
            value: a.priority,
            unit: '1',
            priorityClass: 'alarm',
            extra: { alarm: a.phrase.slice(0, 12) || a.code.toString(16), code: `0x${a.code.toString(16).padStart(2, '0')}`, severity: severity(a.priority) },
          },
        }));
        out.readings.push(...this.edges.update(active));
      }
    }
    return out;
  }

  private link(now: number, out: SessionOutput): void {
    if (this.phase === 'linked') return;
    this.phase = 'linked';
    this.poll(now, out);
  }

  private poll(now: number, out: SessionOutput): void {
    this.lastPoll = now;
    this.sentAt = now;
    out.writes.push(encode('command', CMD.data), encode('command', CMD.alarms));
  }

  tick(now: number): SessionOutput {
    const out = emptyOutput();
    if (this.phase === 'connecting') {
      if (now - this.sentAt >= ICC_RETRY_MS) {
        this.sentAt = now;
        out.writes.push(encode('command', CMD.icc));
      }
    } else if (now - this.lastPoll >= this.opts.pollIntervalMs) this.poll(now, out);
    else if (now - this.sentAt >= NOP_IDLE_MS) {
      this.sentAt = now;
      out.writes.push(encode('command', CMD.nop));
    }
    return out;
  }
}

export const medibus: ProtocolDef = {
  name: 'medibus',
  settings: { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1, rtscts: false },
  pollIntervalMs: 1000,
  silenceTimeoutMs: 5000,
  tickMs: 250,
  createSession: (o) => new MedibusSession(o),
};
