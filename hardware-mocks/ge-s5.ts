/**
 * A simulated GE/Datex-Ohmeda S/5 (CARESCAPE) computer interface (reference §3): waits for
 * the displayed-values request, then sends a DRI record with one basic physiological
 * subrecord every requested interval (or --interval ms, to run tests quickly): ECG HR, ART on
 * P1, CVP on P2, NIBP, T1, SpO2/PR, CO2 (et, fi, rr, ambient pressure). Now and then the SpO2
 * probe is off (group not active, values invalid) and some values are markers (artifact, over
 * range, not calibrated, not updated): the ground truth lists those as `absent` with the flag. In alarm differential mode it sends an
 * alarm record whenever the displayed alarms change. Asked for the ext1 class too, it adds an ext1
 * subrecord (GE-DRI layout) with the R-R time and ICP on P7. 19200 8E1. Ground truth to --truth.
 *
 *   node --import tsx hardware-mocks/ge-s5.ts --port /dev/pts/N [--interval 5000] [--truth file] [--faults ...]
 */
import { fileURLToPath } from 'node:url';
import { rng } from './rng.js';
import { monitorArgs } from './serial/cli.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { basicClass, driRecord, ext1Class, FrameReader, frame, MARKER, physSubrecord } from './serial/ge-wire.js';
import { GroundTruth } from './serial/ground-truth.js';

export interface GeOptions {
  port: string;
  /** Overrides the requested interval (ms). */
  intervalMs?: number;
  seed?: number;
  truth?: string;
  faults?: FaultOptions;
}

export class GeS5Simulator {
  private readonly rand: () => number;
  private readonly reader = new FrameReader();
  private readonly truth: GroundTruth;
  readonly port: DevicePort;
  private timer: NodeJS.Timeout | null = null;
  private alarmsOn = false;
  /** The PC asked for the ext1 class too (phdb_class_bf 0x0002): an ext1 subrecord follows the basic one. */
  private ext1 = false;
  private shownAlarms = '';
  private tick = 0;
  private v = { hr: 70, art: [120, 78, 92], cvp: 8, nibp: [118, 76, 90], t1: 37.1, spo2: 97.5, pr: 71, et: 5.2, fi: 0.1, rr: 13, amb: 760.0, icp: 11 };
  readonly seen = { displ: 0, stop: 0, alarm: 0 };

  constructor(private readonly o: GeOptions) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({
      path: o.port,
      baudRate: 19200,
      parity: 'even',
      onData: (c) => {
        for (const r of this.reader.feed(c)) this.request(r);
      },
      onOpen: () => this.halt(),
    });
  }

  start(): void {
    this.port.start();
  }

  async stop(): Promise<void> {
    this.halt();
    await this.port.stop();
  }

  private halt(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.alarmsOn = false;
    this.shownAlarms = '';
  }

  private request(rec: Buffer): void {
    const maintype = rec.readUInt16LE(14);
    const sub = rec.subarray(40);
    if (maintype === 0 && sub[0] === 1) {
      const ival = sub.readInt16LE(1);
      if (this.timer) clearInterval(this.timer);
      this.timer = null;
      if (ival === 0) {
        this.seen.stop++;
        return;
      }
      this.seen.displ++;
      this.ext1 = (sub.readUInt32LE(3) & 0x0002) !== 0;
      this.timer = setInterval(() => this.send(), this.o.intervalMs ?? Math.max(5, ival) * 1000);
    } else if (maintype === 4) {
      this.seen.alarm++;
      const cmd = sub.readUInt16LE(0);
      this.alarmsOn = cmd === 2;
      if (cmd === 2) this.shownAlarms = '\u0000'; // force the current status out
    }
  }

  private drift(): void {
    const r = this.rand;
    const v = this.v;
    this.tick++;
    const n = (c: number, t: number, k: number, amp: number): number => c + (t - c) * k + (r() - 0.5) * amp;
    v.hr = Math.round(n(v.hr, 70, 0.2, 4));
    v.art = [Math.round(n(v.art[0]!, 120, 0.2, 4) * 100) / 100, Math.round(n(v.art[1]!, 78, 0.2, 3) * 100) / 100, 0];
    v.art[2] = Math.round(((v.art[0]! + 2 * v.art[1]!) / 3) * 100) / 100;
    v.t1 = Math.round(n(v.t1, 37.1, 0.1, 0.1) * 100) / 100;
    const desat = this.tick % 20 >= 16;
    v.spo2 = Math.round(Math.max(80, Math.min(100, n(v.spo2, desat ? 85 : 97.5, 0.4, 1))) * 100) / 100;
    v.pr = Math.round(n(v.pr, 71, 0.2, 4));
    v.et = Math.round(n(v.et, 5.2, 0.2, 0.2) * 100) / 100;
    v.rr = Math.round(n(v.rr, 13, 0.2, 2));
    v.icp = Math.round(n(v.icp, 11, 0.2, 1) * 100) / 100;
  }

  private send(): void {
    if (!this.port.isOpen) return;
    this.drift();
    const v = this.v;
    const time = Math.floor(Date.now() / 1000);
    // Now and then a value is a marker (§3.5): the SpO2 probe off (group exists, not active: not connected, no
    // reading), an SpO2 artifact (invalid), T1 over range, CVP not calibrated while zeroing, ART not updated.
    const probeOff = this.tick % 25 === 24;
    const artifact = this.tick % 25 === 12;
    const t1Over = this.tick % 30 === 7;
    const cvpZeroing = this.tick % 35 === 20;
    const artStale = this.tick % 40 === 33;
    const stale = { marker: MARKER.notUpdated };
    const c = basicClass({
      ecg: { values: { hr: v.hr } },
      p1: { label: 1, values: artStale ? { sys: stale, dia: stale, mean: stale } : { sys: v.art[0]!, dia: v.art[1]!, mean: v.art[2]! } },
      p2: { label: 2, values: { mean: cvpZeroing ? { marker: MARKER.notCalibrated } : v.cvp } },
      nibp: { values: { sys: v.nibp[0]!, dia: v.nibp[1]!, mean: v.nibp[2]! } },
      t1: { values: { temp: t1Over ? { marker: MARKER.overRange } : v.t1 } },
      spo2: probeOff ? { status: 1, values: {} } : { values: artifact ? {} : { spo2: v.spo2, pr: v.pr } },
      co2: { values: { et: v.et, fi: v.fi, rr: v.rr, amb_press: v.amb } },
    });
    const subrecords = [{ type: 1, data: physSubrecord(time, 0, c) }];
    const rrTime = Math.round(60_000 / v.hr);
    if (this.ext1) {
      const e = ext1Class({ arrh_ecg: { values: { hr: v.hr, rr_time: rrTime } }, p7: { label: 7, values: { mean: v.icp } } });
      subrecords.push({ type: 1, data: physSubrecord(time, 1, e) });
    }
    const rec = driRecord(0, time, 10, subrecords);
    const wire = frame(rec);
    const d = applyFaults(wire, this.o.faults ?? {}, this.rand, wire.length - 3);
    for (const ch of d.chunks) this.port.write(ch);
    const values: Record<string, number> = {
      heart_rate: v.hr,
      abp_sys: v.art[0]!,
      abp_dia: v.art[1]!,
      abp_mean: v.art[2]!,
      cvp: v.cvp,
      nibp_sys: v.nibp[0]!,
      nibp_dia: v.nibp[1]!,
      nibp_mean: v.nibp[2]!,
      body_temp: v.t1,
      etco2: Math.round(((Math.round(v.et * 100) * Math.round(v.amb * 10)) / 100_000) * 100) / 100,
      resp_rate: v.rr,
      spo2: v.spo2,
      pulse_rate_oximeter: v.pr,
      ...(this.ext1 ? { rr_interval: rrTime / 1000, icp: v.icp } : {}),
    };
    const absent: Record<string, string> = {};
    const markers: [boolean, string[], string][] = [
      [artifact, ['spo2', 'pulse_rate_oximeter'], 'value_nan'],
      [t1Over, ['body_temp'], 'value_positive_infinity'],
      [cvpZeroing, ['cvp'], 'value_nan'],
      [artStale, ['abp_sys', 'abp_dia', 'abp_mean'], 'value_nan'],
    ];
    for (const [on, metrics, flag] of markers)
      if (on)
        for (const m of metrics) {
          delete values[m];
          absent[m] = flag;
        }
    if (probeOff) {
      delete values.spo2;
      delete values.pulse_rate_oximeter;
    }
    const alarmText = values.spo2 !== undefined && values.spo2 < 90 ? 'SpO2 LOW' : '';
    this.truth.record({
      values,
      ...(Object.keys(absent).length ? { absent } : {}),
      time: time * 1000,
      ...(alarmText ? { alarms: [alarmText] } : {}),
      ...(d.damaged ? { damaged: d.damaged } : {}),
    });
    if (this.alarmsOn && alarmText !== this.shownAlarms) {
      this.shownAlarms = alarmText;
      const al = Buffer.alloc(510);
      if (alarmText) {
        al.write(alarmText, 10, 'latin1');
        al.writeUInt16LE(3, 10 + 82);
      }
      for (const ch of applyFaults(frame(driRecord(4, time, 10, [{ type: 1, data: al }])), {}, this.rand).chunks) this.port.write(ch);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = monitorArgs(process.argv.slice(2));
  const sim = new GeS5Simulator({
    port: a.port,
    seed: a.seed,
    faults: parseFaults(a.faults),
    ...(a.intervalMs ? { intervalMs: a.intervalMs } : {}),
    ...(a.truth ? { truth: a.truth } : {}),
  });
  sim.start();
  process.on('SIGINT', () => void sim.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void sim.stop().then(() => process.exit(0)));
}
