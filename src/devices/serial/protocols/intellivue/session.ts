/**
 * The IntelliVue session (reference §2.3, §2.8): associate, answer the MDS Create Event
 * Report, poll numerics and alarms, re-associate on refusal, release or abort. Time: the
 * poll's absolute time when the monitor sends one, else the MDS report's absolute time plus
 * the relative-time difference (1/8 ms ticks).
 *
 * Two ways to poll (option `pollPeriod`, per port):
 * - 0 (the default, §2.8 "every 1-5 s"): one extended poll of numerics and one of the alert
 *   monitor every poll interval, without a period attribute; each is answered once.
 * - a period: each extended poll carries NOM_ATTR_TIME_PD_POLL (0xF13E, the period in 1/8 ms
 *   ticks, as V-PH-3/V-PH-4), which makes the monitor send results on its own for that long
 *   (§2.3; plain or linked, correction 6). The gateway asks again one poll interval before the
 *   period runs out (as OpenICE re-asserts its 10-min poll after 9), and at once for an object
 *   whose results stop for two poll intervals (a monitor that answers a periodic poll once).
 *   With a period, the keep-alive of §2.8 item 6 (MDS Create Event Result every 6 s) runs
 *   whatever the poll interval: the gateway may send nothing else for the whole period.
 */
import type { ValueAbsentFlag } from '../../../../reading.js';
import { type ActiveAlarm, AlarmEdges, technical } from '../alarm-edges.js';
import { type Decoded, emptyOutput, type ProtocolDef, type Session, type SessionOptions, type SessionOutput } from '../types.js';
import { alarmSeverity, PHYSIO_METRIC, STATE, UNIT_OVERRIDE, UNIT_UCUM } from './codes.js';
import { alarms, decodeMessage, type Message, mdsTimes, numerics } from './decode.js';
import { encodeFrame, FrameDecoder } from './frame.js';
import { AARQ, extendedPoll, mdsCreateResult, RELEASE_REQUEST, RELEASE_RESPONSE, singlePoll } from './messages.js';

const REASSOCIATE_MS = 5000;
/** VSCaptureMP's keep-alive and MDS re-poll, used only with poll intervals over 1 s (correction 2). */
const KEEPALIVE_MS = 6000;
const MDS_REPOLL_MS = 60_000;
/** The polled objects: numerics (NOM_MOC_VMO_METRIC_NU) and the alert monitor (NOM_MOC_VMO_AL_MON, group 0x0801). */
const POLLED = [
  { objCode: 6, group: 0 },
  { objCode: 0x36, group: 0x0801 },
] as const;
/** Largest period: 1/8 ms ticks in a u32 (about 6.2 days); config keeps it far below. */
const MAX_PERIOD_MS = 0xffffffff / 8;
/** The quality flag of each IntelliVue FLOAT special value (float.ts). */
const SPECIAL_FLAG: Readonly<Record<'nan' | 'nres' | '+inf' | '-inf', ValueAbsentFlag>> = {
  nan: 'value_nan',
  nres: 'value_nres',
  '+inf': 'value_positive_infinity',
  '-inf': 'value_negative_infinity',
};
const hex = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

type Phase = 'associating' | 'awaiting_mds' | 'polling' | 'refused';

export class IntellivueSession implements Session {
  private readonly frames = new FrameDecoder();
  private readonly patientAlarms = new AlarmEdges();
  private readonly technicalAlarms = new AlarmEdges();
  phase: Phase = 'associating';
  private since = 0;
  private lastPoll = 0;
  /** Periodic polling: per polled object, when it was last asked and when its last result came. */
  private readonly periodic = new Map<number, { sentAt: number; resultAt: number }>();
  private readonly periodMs: number;
  private lastKeepAlive = 0;
  private lastMdsPoll = 0;
  private invokeId = 0;
  private pollNumber = 0;
  private mds: { invokeId: number; eventTime: number } | null = null;
  private base: { abs: number; rel: number } | null = null;
  /** Last value per metric, for alarm readings. */
  private readonly last = new Map<string, { value: number; unit: string }>();

  constructor(private readonly opts: SessionOptions) {
    const p = Number(opts.options?.pollPeriod ?? 0);
    this.periodMs = Number.isFinite(p) && p > 0 ? Math.min(p, MAX_PERIOD_MS) : 0;
  }

  open(now: number): SessionOutput {
    this.frames.reset();
    this.patientAlarms.reset();
    this.technicalAlarms.reset();
    this.phase = 'associating';
    this.since = now;
    this.mds = null;
    this.base = null;
    const out = emptyOutput();
    out.writes.push(encodeFrame(AARQ));
    return out;
  }

  /** Release request, for a clean stop. */
  close(): Buffer[] {
    return this.phase === 'polling' || this.phase === 'awaiting_mds' ? [encodeFrame(RELEASE_REQUEST)] : [];
  }

  data(chunk: Buffer, now: number): SessionOutput {
    const out = emptyOutput();
    const f = this.frames.push(chunk);
    out.rejects.push(...f.rejects);
    for (const u of f.frames) {
      const decoded = decodeMessage(u);
      if (!decoded.ok) {
        out.rejects.push(decoded.reason);
        continue;
      }
      out.frames++;
      this.message(decoded.msg, now, out);
    }
    return out;
  }

  tick(now: number): SessionOutput {
    const out = emptyOutput();
    if ((this.phase === 'associating' || this.phase === 'refused') && now - this.since >= REASSOCIATE_MS) {
      this.phase = 'associating';
      this.since = now;
      out.writes.push(encodeFrame(AARQ));
    } else if (this.phase === 'polling') {
      if (this.periodMs > 0) this.periodicPolls(now, out);
      else if (now - this.lastPoll >= this.opts.pollIntervalMs) this.poll(now, out);
      if ((this.opts.pollIntervalMs > 1000 || this.periodMs > 0) && this.mds && now - this.lastKeepAlive >= KEEPALIVE_MS) {
        this.lastKeepAlive = now;
        out.writes.push(encodeFrame(mdsCreateResult(this.mds.invokeId, this.mds.eventTime)));
      }
      if (this.opts.pollIntervalMs > 1000 && now - this.lastMdsPoll >= MDS_REPOLL_MS) {
        this.lastMdsPoll = now;
        out.writes.push(encodeFrame(singlePoll({ invokeId: this.nextInvoke(), pollNumber: this.nextPoll(), objCode: 0x21, group: 0 })));
      }
    }
    return out;
  }

  private poll(now: number, out: SessionOutput): void {
    this.lastPoll = now;
    if (this.periodMs > 0) {
      this.periodic.clear();
      this.periodicPolls(now, out);
      return;
    }
    for (const o of POLLED) out.writes.push(encodeFrame(extendedPoll({ invokeId: this.nextInvoke(), pollNumber: this.nextPoll(), ...o })));
  }

  /** Asks for each object whose period is about to run out, or whose results stopped (see the header). */
  private periodicPolls(now: number, out: SessionOutput): void {
    const interval = this.opts.pollIntervalMs;
    for (const o of POLLED) {
      const polled = this.periodic.get(o.objCode);
      const reassert = Math.max(this.periodMs - interval, interval);
      const due = !polled || now - polled.sentAt >= reassert || now - Math.max(polled.sentAt, polled.resultAt) >= 2 * interval;
      if (!due) continue;
      this.periodic.set(o.objCode, { sentAt: now, resultAt: polled?.resultAt ?? 0 });
      const periodTicks = Math.round(this.periodMs * 8);
      out.writes.push(encodeFrame(extendedPoll({ invokeId: this.nextInvoke(), pollNumber: this.nextPoll(), ...o, periodTicks })));
    }
  }

  private nextInvoke(): number {
    this.invokeId = (this.invokeId + 1) & 0xffff;
    return this.invokeId;
  }

  private nextPoll(): number {
    this.pollNumber = (this.pollNumber + 1) & 0xffff;
    return this.pollNumber;
  }

  private message(m: Message, now: number, out: SessionOutput): void {
    switch (m.kind) {
      case 'assoc_accept':
        this.phase = 'awaiting_mds';
        this.since = now;
        return;
      case 'assoc_refuse':
        this.phase = 'refused';
        this.since = now;
        out.readings.push(technical('ASSOCIATION_REFUSED'));
        return;
      case 'release_request':
        // The monitor ends the association: answer it (§2.3 step 7), then start again after a pause.
        out.writes.push(encodeFrame(RELEASE_RESPONSE));
        this.phase = 'refused';
        this.since = now;
        return;
      case 'abort':
      case 'release_response':
        // The monitor ended the association: start again after a pause.
        this.phase = 'refused';
        this.since = now;
        return;
      case 'mds_create':
        this.mds = { invokeId: m.invokeId, eventTime: m.eventTime };
        if (m.absTime !== undefined && m.relTime !== undefined) this.base = { abs: m.absTime, rel: m.relTime };
        out.writes.push(encodeFrame(mdsCreateResult(m.invokeId, m.eventTime)));
        if (this.phase !== 'polling') {
          this.phase = 'polling';
          this.lastKeepAlive = now;
          this.lastMdsPoll = now;
          this.poll(now, out);
        }
        return;
      case 'remote_error':
        out.rejects.push('intellivue_remote_error');
        return;
      case 'poll_result': {
        const polled = this.periodic.get(m.objCode);
        if (polled) polled.resultAt = now;
        this.pollResult(m, out);
        return;
      }
      default:
        return;
    }
  }

  private deviceTime(m: Extract<Message, { kind: 'poll_result' }>): number | undefined {
    if (m.absTime !== undefined) return m.absTime;
    if (this.base) return this.base.abs + Math.round(((m.relTime - this.base.rel) | 0) / 8);
    return undefined;
  }

  private pollResult(m: Extract<Message, { kind: 'poll_result' }>, out: SessionOutput): void {
    if (m.objCode === 0x21) {
      // The MDS re-poll (correction 2): its absolute and relative time renew the base for polls without an absolute time.
      for (const o of m.observations) this.base = mdsTimes(o) ?? this.base;
      return;
    }
    const deviceTime = this.deviceTime(m);
    const at = deviceTime === undefined ? {} : { deviceTime };
    if (m.objCode === 6) {
      for (const o of m.observations) {
        const ns = numerics(o);
        if (typeof ns === 'string') {
          out.rejects.push(ns);
          continue;
        }
        for (const n of ns) {
          const metric = PHYSIO_METRIC.get(n.code) ?? PHYSIO_METRIC.get(n.physio);
          if (!metric) continue;
          if (n.state & (STATE.invalid | STATE.unavailable | STATE.calibrating | STATE.testData)) continue;
          const unit = UNIT_OVERRIDE.get(metric)?.get(n.unit) ?? UNIT_UCUM.get(n.unit) ?? `mdc-dim:${n.unit}`;
          // A FLOAT special (NaN, NRes, +/-INF) is a reading with no number and its flag, never a number.
          const special = 'value' in n.value ? undefined : SPECIAL_FLAG[n.value.special];
          const reading: Decoded = { metric, value: special ? NaN : (n.value as { value: number }).value, unit, ...at };
          const quality: Decoded['quality'] = special ? [special] : [];
          if (n.state & STATE.questionable) quality.push('questionable');
          if (n.state & STATE.demo) quality.push('simulated');
          if (quality.length) reading.quality = quality;
          if (n.state & STATE.demo) reading.extra = { demo: true };
          if (!special) this.last.set(metric, { value: reading.value, unit });
          out.readings.push(reading);
        }
      }
    } else if (m.objCode === 0x36) {
      const patient: ActiveAlarm[] = [];
      const tech: ActiveAlarm[] = [];
      for (const o of m.observations) {
        const as = alarms(o);
        if (typeof as === 'string') {
          out.rejects.push(as);
          return; // an unreadable list: keep the current alarm state rather than clear it
        }
        for (const a of as) {
          const key = `${hex(a.source)}:${hex(a.code)}`;
          const severity = alarmSeverity(a.type);
          const extra = { alarm: hex(a.code), source: hex(a.source), severity, ...(a.state & 0x0100 ? { demo: true } : {}) };
          if (a.technical) {
            tech.push({ key, reading: { ...technical(hex(a.code), { source: hex(a.source), severity }), ...at } });
            continue;
          }
          const metric = PHYSIO_METRIC.get(a.source);
          const last = metric ? this.last.get(metric) : undefined;
          patient.push({
            key,
            reading:
              metric && last
                ? { metric, value: last.value, unit: last.unit, priorityClass: 'alarm', extra, ...at }
                : { metric: 'gateway_event', value: 1, unit: '1', priorityClass: 'alarm', extra, ...at },
          });
        }
      }
      out.readings.push(...this.patientAlarms.update(patient), ...this.technicalAlarms.update(tech));
    }
  }
}

export const intellivue: ProtocolDef = {
  name: 'intellivue',
  settings: { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false },
  pollIntervalMs: 1000,
  silenceTimeoutMs: 10_000,
  tickMs: 250,
  createSession: (o) => new IntellivueSession(o),
};
