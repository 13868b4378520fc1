/**
 * The MEDIBUS session, the gateway as the "PC" (reference §4.3, §4.6): send ICC; answer every
 * command the device sends (ICC, NOP, device id, anything else with an empty echo); once the link
 * is up, request measured data (0x24) and current alarms (0x27) every poll interval and a NOP when
 * idle for 2 s. The worker's silence restart re-sends ICC after a gap.
 *
 * Realtime curves (§4.5), when the port configures some: once linked, request the device's
 * realtime configuration (0x53), configure the wanted curves that it offers (0x54, code and
 * multiplier each, streams numbered in that order), and after the echo enable their streams with
 * the sync command `D0 C1 <bits> C0 C0`, repeated every few seconds (the protocol definition
 * recommends it: a lost sync command has no answer). Realtime bytes (>= 0x80) interleaved anywhere
 * in the slow stream become waveform readings, value = min + raw x (max - min) / maxbin; "realtime
 * configuration changed" (0x56) starts the sequence again. At most four curves (streams 1-4 of the
 * sync byte; streams 5-12 need the "transmitted datastreams" commands, not implemented).
 */
import { type ActiveAlarm, AlarmEdges } from '../alarm-edges.js';
import { emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { alarms, CP1_METRIC, measuredData, RT_METRIC, severity } from './decode.js';
import { encode, FrameDecoder, NAK } from './frame.js';
import { configureArgument, enableStreams, type RealtimeCurve, RealtimeDecoder, realtimeConfig, realtimeValue } from './realtime.js';

const CMD = {
  nop: 0x30,
  icc: 0x51,
  deviceId: 0x52,
  stop: 0x55,
  data: 0x24,
  alarms: 0x27,
  rtConfig: 0x53,
  rtConfigure: 0x54,
  rtChanged: 0x56,
} as const;
/** Our answer to the device-id request: id 0161, a name in apostrophes, DD.DD:MM.MM versions (V-MB-4 layout). */
const DEVICE_ID = "0161'wardgate'01.00:01.00";

const ICC_RETRY_MS = 3000;
const NOP_IDLE_MS = 2000;
/** A response must complete within 10 s (§4.3): ask again after that. */
const RESPONSE_MS = 10_000;
/** Re-send the stream enable this often while streaming. */
const ENABLE_REPEAT_MS = 5000;
const MAX_STREAMS = 4;

/** A curve the port asks for: device code and multiplier (every n-th sample). */
export interface RealtimeWanted {
  code: number;
  multiplier: number;
}

type RtPhase = 'off' | 'config' | 'configure' | 'streaming' | 'unavailable';

function wantedCurves(options: Readonly<Record<string, unknown>> | undefined): RealtimeWanted[] {
  const list = options?.realtime;
  if (!Array.isArray(list)) return [];
  return list
    .map((c: { code?: unknown; multiplier?: unknown }) => ({
      code: typeof c.code === 'string' ? parseInt(c.code, 16) : typeof c.code === 'number' ? c.code : NaN,
      multiplier: typeof c.multiplier === 'number' ? c.multiplier : 1,
    }))
    .filter((c) => Number.isInteger(c.code) && c.code >= 0 && c.code <= 0xff && RT_METRIC.has(c.code));
}

class MedibusSession implements Session {
  private readonly frames = new FrameDecoder();
  private readonly edges = new AlarmEdges();
  private readonly rt = new RealtimeDecoder();
  private readonly wanted: RealtimeWanted[];
  phase: 'connecting' | 'linked' = 'connecting';
  private sentAt = 0;
  private lastPoll = 0;
  rtPhase: RtPhase = 'off';
  private rtAt = 0;
  /** Stream n (1-based) is streams[n - 1]. */
  private streams: (RealtimeCurve & { metric: string; unit: string })[] = [];

  constructor(private readonly opts: SessionOptions) {
    this.wanted = wantedCurves(opts.options);
  }

  open(now: number): SessionOutput {
    this.frames.reset();
    this.edges.reset();
    this.rt.reset();
    this.phase = 'connecting';
    this.rtPhase = 'off';
    this.streams = [];
    this.sentAt = now;
    const out = emptyOutput();
    out.writes.push(encode('command', CMD.icc));
    return out;
  }

  close(): Buffer[] {
    if (this.phase !== 'linked') return [];
    return [...(this.rtPhase === 'streaming' ? [enableStreams([])] : []), encode('command', CMD.stop)];
  }

  data(chunk: Buffer, now: number): SessionOutput {
    const out = emptyOutput();
    if (this.rtPhase === 'streaming') this.realtime(chunk, out);
    const f = this.frames.push(chunk);
    out.rejects.push(...f.rejects);
    for (const fr of f.frames) {
      out.frames++;
      if (fr.kind === 'command') {
        // Every command must be answered, at least with an empty echo.
        out.writes.push(fr.code === CMD.deviceId ? encode('response', fr.code, DEVICE_ID) : encode('response', fr.code));
        this.sentAt = now;
        // An ICC from a linked device: it started again, its realtime configuration is gone.
        if (fr.code === CMD.icc && this.phase === 'linked' && this.rtPhase !== 'off') this.requestConfig(now, out);
        if (fr.code === CMD.icc || fr.code === CMD.nop) this.link(now, out);
        if (fr.code === CMD.stop) this.phase = 'connecting';
        if (fr.code === CMD.rtChanged && this.phase === 'linked' && this.wanted.length > 0) this.requestConfig(now, out);
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
      } else if (fr.code === CMD.rtConfig && this.rtPhase === 'config') this.configure(fr.data, now, out);
      else if (fr.code === CMD.rtConfigure && this.rtPhase === 'configure') {
        // Configured: enable the streams (a sync command, no answer; not slow traffic for the idle NOP).
        this.rtPhase = 'streaming';
        this.rtAt = now;
        this.rt.reset();
        out.writes.push(enableStreams(this.streams.map((_c, i) => i + 1)));
      }
    }
    return out;
  }

  /** Realtime bytes of a chunk (the slow ones are skipped) -> waveform readings of the configured streams. */
  private realtime(chunk: Buffer, out: SessionOutput): void {
    let any = false;
    for (const b of chunk) if (b >= 0x80) any = true;
    if (!any) return;
    const r = this.rt.push(chunk.filter((b) => b >= 0x80));
    out.rejects.push(...r.rejects);
    for (const c of r.commands) if (c.command === 0xcf) out.rejects.push('medibus_rt_corrupt');
    for (const s of r.samples) {
      const curve = this.streams[s.stream - 1];
      if (!curve) {
        out.rejects.push('medibus_rt_unknown_stream');
        continue;
      }
      out.readings.push({ metric: curve.metric, value: realtimeValue(s.raw, curve), unit: curve.unit, priorityClass: 'waveform' });
    }
  }

  private requestConfig(now: number, out: SessionOutput): void {
    this.rtPhase = 'config';
    this.rtAt = now;
    this.streams = [];
    this.sentAt = now;
    out.writes.push(encode('command', CMD.rtConfig));
  }

  /** The device's realtime configuration arrived: configure the wanted curves it offers, in the port's order. */
  private configure(data: string, now: number, out: SessionOutput): void {
    const offered = realtimeConfig(data);
    if (typeof offered === 'string') {
      out.rejects.push(offered);
      this.rtPhase = 'unavailable';
      return;
    }
    const chosen: (RealtimeCurve & RealtimeWanted)[] = [];
    for (const w of this.wanted) {
      const c = offered.find((o) => o.code === w.code);
      if (c && chosen.length < MAX_STREAMS && !chosen.some((x) => x.code === w.code)) chosen.push({ ...c, multiplier: w.multiplier });
      else out.rejects.push('medibus_rt_not_offered');
    }
    if (chosen.length === 0) {
      this.rtPhase = 'unavailable';
      return;
    }
    this.streams = chosen.map((c) => ({ ...c, ...RT_METRIC.get(c.code)! }));
    this.rtPhase = 'configure';
    this.rtAt = now;
    this.sentAt = now;
    out.writes.push(encode('command', CMD.rtConfigure, configureArgument(chosen)));
  }

  private link(now: number, out: SessionOutput): void {
    if (this.phase === 'linked') return;
    this.phase = 'linked';
    this.poll(now, out);
    if (this.wanted.length > 0) this.requestConfig(now, out);
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
      return out;
    }
    if (now - this.lastPoll >= this.opts.pollIntervalMs) this.poll(now, out);
    else if (now - this.sentAt >= NOP_IDLE_MS) {
      this.sentAt = now;
      out.writes.push(encode('command', CMD.nop));
    }
    if ((this.rtPhase === 'config' || this.rtPhase === 'configure') && now - this.rtAt >= RESPONSE_MS) this.requestConfig(now, out);
    else if (this.rtPhase === 'streaming' && now - this.rtAt >= ENABLE_REPEAT_MS) {
      this.rtAt = now;
      out.writes.push(enableStreams(this.streams.map((_c, i) => i + 1)));
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
