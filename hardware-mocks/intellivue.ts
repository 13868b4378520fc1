/**
 * A simulated Philips IntelliVue with its MIB/RS232 port in data-export mode (reference §2),
 * speaking from the monitor's side: accepts the association request, sends the MDS Create
 * Event Report and waits for its result, answers extended polls of numerics (HR, SpO2, pulse,
 * RR, etCO2, temperature, NBP compound, ABP, perfusion index, airway RR and ventilation: plateau, FiO2,
 * minute volume, PEEP, tidal volume, peak and mean pressure, rate) and of the alert monitor (patient and technical
 * alarms), answers release. 115200 8N1. Writes what each poll result carried to --truth.
 *
 *   node --import tsx hardware-mocks/intellivue.ts --port /dev/pts/N [--truth file] [--faults noise=0.05,corrupt=0.05] [--linked]
 */
import { fileURLToPath } from 'node:url';
import { rng } from './rng.js';
import { monitorArgs } from './serial/cli.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { GroundTruth } from './serial/ground-truth.js';
import { bcdTime, FrameReader, float32, frame, W } from './serial/intellivue-wire.js';

interface Numeric {
  handle: number;
  physio: number;
  label?: number;
  unit: number;
  decimals: number;
  metric: string;
  value: number;
}

export interface IntellivueOptions {
  port: string;
  seed?: number;
  truth?: string;
  faults?: FaultOptions;
  /** Send numerics as a linked series (RORLS first + last parts) instead of one RORS. */
  linked?: boolean;
  /** Refuse the first N association requests (0x0C). */
  refuse?: number;
  /** How often results of a periodic poll (one carrying NOM_ATTR_TIME_PD_POLL) are sent, ms (default 1000). */
  reportIntervalMs?: number;
  /** Answer a periodic poll once, as if it had no period (a monitor or emulator that ignores the attribute). */
  ignorePeriod?: boolean;
}

/** The NOM_ATTR_TIME_PD_POLL (0xF13E) of an extended poll request (its attribute list at offset 36), in 1/8 ms ticks; 0 if absent. */
function pollPeriodTicks(u: Buffer): number {
  if (u.length < 40) return 0;
  const count = u.readUInt16BE(36);
  let at = 40;
  for (let i = 0; i < count && at + 4 <= u.length; i++) {
    const id = u.readUInt16BE(at);
    const len = u.readUInt16BE(at + 2);
    if (id === 0xf13e && len >= 4 && at + 8 <= u.length) return u.readUInt32BE(at + 4);
    at += 4 + len;
  }
  return 0;
}

type State = 'idle' | 'associated' | 'exporting';

/** Release response (SPDU 0x0A), the bytes VSCaptureMP answers a release with (its rlrq_resp_msg). */
const RELEASE_RESPONSE = Buffer.from('0a18c11661803080020101a08063808001000000000000000000', 'hex');

/**
 * Association result, accepted (SPDU 0x0E): session/presentation header as OpenICE's AssociationAccept writes it,
 * then the MDSE user info with its length in the short BER form (correction 7): protocol version, nomenclature,
 * functional units, system type (server), cold start, no options, and the poll profile support (min poll period
 * 500 ms, MTU 1456) with the poll-profile extensions package, then 16 zero bytes.
 */
function associationResult(): Buffer {
  const head = Buffer.from(
    [
      '3180a0808001010000a280a003000001a58030808001008102510100003080800100810c2a8648ce140201000000020100000000',
      '61803080020101a0806180a180060c2a8648ce14020100000003010000a203020100a305a103020100be80288002010281',
    ].join(''),
    'hex',
  );
  const ext = new W().u16(0xf001).counted(new W().u32(0x8e000000).u16(0).u16(0).buf()).buf();
  const poll = new W().u32(0x80000000).u32(0x0fa0).u32(0x05b0).u32(0x05b0).u32(0xffffffff).u32(0x60000000).u16(1).counted(ext).buf();
  const profiles = new W().u16(1).counted(new W().u16(0x0001).counted(poll).buf()).buf();
  const info = new W().u32(0x80000000).u32(0x40000000).u32(0).u32(0x00800000).u32(0x20000000).u16(0).u16(0).bytes(profiles).buf();
  const body = new W().bytes(head).u8(info.length).bytes(info).bytes(Buffer.alloc(16)).buf();
  return new W().u8(0x0e).u8(body.length).bytes(body).buf();
}

export class IntellivueSimulator {
  private readonly rand: () => number;
  private readonly reader = new FrameReader();
  private readonly truth: GroundTruth;
  readonly port: DevicePort;
  private state: State = 'idle';
  private readonly t0 = Date.now();
  private tick = 0;
  private refusals = 0;
  private v = {
    hr: 72,
    spo2: 97,
    pr: 73,
    rr: 14,
    etco2: 38,
    temp: 36.8,
    sys: 121,
    dia: 79,
    abpS: 118,
    abpD: 76,
    // A ventilated patient: perfusion index, airway RR, and what the ventilator reports through the monitor.
    perf: 1.8,
    awrr: 16,
    pplat: 22,
    fio2: 40,
    mv: 8.2,
    peep: 5,
    tv: 480,
    ppeak: 26,
    pmean: 12,
  };
  /** Requests seen, by kind (for tests that check the gateway's side of the dialogue). */
  readonly seen = { aarq: 0, mdsResult: 0, pollNumerics: 0, pollAlarms: 0, pollMds: 0, release: 0 };
  /** Running periodic poll series, by polled object code. */
  private readonly streams = new Map<number, { timer: NodeJS.Timeout; end: () => void }>();
  /** Empty final parts sent (linked periodic series that ended or were replaced). */
  finals = 0;
  /** NOM_ATTR_TIME_PD_POLL of the last extended poll of numerics or alarms (1/8 ms ticks; 0 without one). */
  lastPeriodTicks = 0;

  constructor(private readonly o: IntellivueOptions) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({
      path: o.port,
      baudRate: 115200,
      onData: (c) => this.onData(c),
      onOpen: () => {
        this.state = 'idle';
        this.stopStreams();
      },
    });
  }

  start(): void {
    this.port.start();
  }

  async stop(): Promise<void> {
    this.stopStreams();
    await this.port.stop();
  }

  private stopStreams(): void {
    for (const t of this.streams.values()) clearInterval(t.timer);
    this.streams.clear();
  }

  private send(userData: Buffer, truth?: Parameters<GroundTruth['record']>[0], corruptAt?: number): void {
    const wire = frame(userData);
    const d = applyFaults(wire, this.o.faults ?? {}, this.rand, corruptAt ?? wire.length - 3);
    for (const c of d.chunks) this.port.write(c);
    if (truth) this.truth.record(d.damaged ? { ...truth, damaged: d.damaged } : truth);
  }

  private onData(chunk: Buffer): void {
    for (const u of this.reader.feed(chunk)) this.request(u);
  }

  private relTicks(): number {
    return ((Date.now() - this.t0) * 8) >>> 0;
  }

  private request(u: Buffer): void {
    const spdu = u[0];
    if (spdu === 0x0d) {
      this.seen.aarq++;
      this.stopStreams();
      if (this.refusals < (this.o.refuse ?? 0)) {
        this.refusals++;
        this.send(Buffer.from([0x0c, 0x02, 0x00, 0x00]));
        return;
      }
      this.send(associationResult());
      this.state = 'associated';
      this.sendMdsCreate();
      return;
    }
    if (spdu === 0x09) {
      this.seen.release++;
      this.send(RELEASE_RESPONSE);
      this.state = 'idle';
      this.stopStreams();
      return;
    }
    if (spdu !== 0xe1 || u.length < 14) return;
    const roType = u.readUInt16BE(4);
    const invokeId = u.readUInt16BE(8);
    const command = u.readUInt16BE(10);
    if (roType === 2 && command === 1) {
      // MDS Create Event Result
      this.seen.mdsResult++;
      this.state = 'exporting';
      return;
    }
    if (roType === 1 && command === 7 && this.state === 'exporting' && u.length >= 36) {
      const action = u.readUInt16BE(24);
      const pollNumber = u.readUInt16BE(28);
      const objCode = u.readUInt16BE(32);
      if (action === 0x0c16 && objCode === 0x21) {
        this.seen.pollMds++;
        this.send(this.mdsPollResult(invokeId, pollNumber));
        return;
      }
      if (action !== 0xf13b) return;
      if (objCode !== 6 && objCode !== 0x36) return;
      if (objCode === 6) this.seen.pollNumerics++;
      else this.seen.pollAlarms++;
      const answer = (part?: number): void => (objCode === 6 ? this.numerics(invokeId, pollNumber, part) : this.alarms(invokeId, pollNumber, part));
      const period = pollPeriodTicks(u);
      this.lastPeriodTicks = period;
      this.streams.get(objCode)?.end(); // a new poll for the object ends its running series
      if (period === 0 || this.o.ignorePeriod) {
        answer();
        return;
      }
      // A periodic poll (§2.3): results every report interval for the period, replacing a series running for the
      // object. Linked: RORLS parts (first 1, then 2) and an empty final RORS (correction 6); else plain RORS.
      const until = Date.now() + period / 8;
      answer(this.o.linked ? 1 : undefined);
      const end = (): void => {
        clearInterval(timer);
        if (this.streams.get(objCode)?.timer === timer) this.streams.delete(objCode);
        if (this.state === 'exporting' && this.o.linked) {
          this.finals++;
          this.send(this.pollResult(invokeId, pollNumber, objCode, [], Date.now()));
        }
      };
      const timer = setInterval(() => {
        if (this.state !== 'exporting' || Date.now() >= until) end();
        else answer(this.o.linked ? 2 : undefined);
      }, this.o.reportIntervalMs ?? 1000);
      this.streams.set(objCode, { timer, end });
    }
  }

  /** Single poll result (action 0x0C16: no sequence number) of the MDS object: its absolute and relative time. */
  mdsPollResult(invokeId: number, pollNumber: number): Buffer {
    const rel = this.relTicks();
    const now = bcdTime(new Date());
    const attrs = new W().u16(0x0987).counted(now).u16(0x098f).counted(new W().u32(rel).buf()).buf();
    const obs = new W().u16(0).u16(2).counted(attrs).buf();
    const info = new W().u16(0).u16(1).counted(obs).buf();
    const result = new W().u16(pollNumber).u32(rel).bytes(now).u16(1).u16(0x21).u16(0).u16(1).counted(info).buf();
    const body = new W().u16(0x21).u16(0).u16(0).u16(0x0c16).counted(result).buf();
    return new W().bytes([0xe1, 0, 0, 2]).u16(2).counted(new W().u16(invokeId).u16(7).counted(body).buf()).buf();
  }

  private sendMdsCreate(): void {
    const attrs = new W().u16(0x0987).counted(bcdTime(new Date())).u16(0x098f).counted(new W().u32(this.relTicks()).buf()).buf();
    // MdsCreateInfo: the MDS managed object (class 0x21, context 0, handle 0), then its attribute list.
    const args = new W().u16(0x21).u16(0).u16(0).u16(2).counted(attrs).buf();
    const body = new W().u16(0x21).u16(0).u16(0).u32(this.relTicks()).u16(0x0d06).counted(args).buf();
    const ro = new W().u16(1).u16(1).counted(body).buf(); // invoke id 1, confirmed event report
    this.send(new W().bytes([0xe1, 0, 0, 2]).u16(1).counted(ro).buf());
  }

  private drift(): void {
    const r = this.rand;
    const v = this.v;
    this.tick++;
    const desat = this.tick % 30 >= 25;
    v.hr = Math.round(Math.max(40, Math.min(180, v.hr + (72 - v.hr) * 0.2 + (r() - 0.5) * 4)));
    v.pr = v.hr + (r() < 0.5 ? 0 : 1);
    v.spo2 = Math.round(Math.max(80, Math.min(100, v.spo2 + (desat ? -2 : (97 - v.spo2) * 0.4) + (r() - 0.5) * 2)));
    v.rr = Math.round(Math.max(6, Math.min(40, v.rr + (14 - v.rr) * 0.2 + (r() - 0.5) * 2)));
    v.etco2 = Math.round((v.etco2 + (38 - v.etco2) * 0.2 + (r() - 0.5)) * 10) / 10;
    v.temp = Math.round((v.temp + (36.8 - v.temp) * 0.1 + (r() - 0.5) * 0.1) * 10) / 10;
    v.sys = Math.round(v.sys + (121 - v.sys) * 0.2 + (r() - 0.5) * 4);
    v.dia = Math.round(v.dia + (79 - v.dia) * 0.2 + (r() - 0.5) * 3);
    v.abpS = Math.round(v.abpS + (118 - v.abpS) * 0.2 + (r() - 0.5) * 4);
    v.abpD = Math.round(v.abpD + (76 - v.abpD) * 0.2 + (r() - 0.5) * 3);
    v.perf = Math.round(Math.max(0.2, v.perf + (1.8 - v.perf) * 0.2 + (r() - 0.5) * 0.3) * 100) / 100;
    v.awrr = Math.round(Math.max(8, v.awrr + (16 - v.awrr) * 0.3 + (r() - 0.5) * 2));
    v.pplat = Math.round(v.pplat + (22 - v.pplat) * 0.3 + (r() - 0.5) * 2);
    v.fio2 = this.tick % 60 < 30 ? 40 : 45; // a setting: steps, does not drift
    v.mv = Math.round((v.mv + (8.2 - v.mv) * 0.3 + (r() - 0.5) * 0.4) * 10) / 10;
    v.tv = Math.round(v.tv + (480 - v.tv) * 0.3 + (r() - 0.5) * 20);
    v.ppeak = Math.round(v.ppeak + (26 - v.ppeak) * 0.3 + (r() - 0.5) * 2);
    v.pmean = Math.round(v.pmean + (12 - v.pmean) * 0.3 + (r() - 0.5));
  }

  private current(): Numeric[] {
    const v = this.v;
    return [
      { handle: 0x10, physio: 0x4182, unit: 0x0aa0, decimals: 0, metric: 'heart_rate', value: v.hr },
      { handle: 0x11, physio: 0x4bb8, unit: 0x0220, decimals: 0, metric: 'spo2', value: v.spo2 },
      { handle: 0x12, physio: 0x4822, label: 0x00024822, unit: 0x0aa0, decimals: 0, metric: 'pulse_rate_oximeter', value: v.pr },
      { handle: 0x13, physio: 0x500a, unit: 0x0ae0, decimals: 0, metric: 'resp_rate', value: v.rr },
      { handle: 0x14, physio: 0x50b0, label: 0x000250ac, unit: 0x0f20, decimals: 1, metric: 'etco2', value: v.etco2 },
      { handle: 0x15, physio: 0x4b48, label: 0x00024b5c, unit: 0x17a0, decimals: 1, metric: 'body_temp', value: v.temp },
      { handle: 0x17, physio: 0x4a15, unit: 0x0f20, decimals: 0, metric: 'abp_sys', value: v.abpS },
      { handle: 0x18, physio: 0x4a16, unit: 0x0f20, decimals: 0, metric: 'abp_dia', value: v.abpD },
      // Perfusion index dimensionless (NOM_DIM_DIMLESS 0x0200), airway RR, ventilation in cmH2O (0x0F40), mL (0x0652),
      // L/min (0x0C00), % (0x0220); physio ids: §2.6 and the MDC codes less partition 2.
      { handle: 0x19, physio: 0x4bb0, unit: 0x0200, decimals: 2, metric: 'perfusion_index', value: v.perf },
      { handle: 0x1a, physio: 0x5012, unit: 0x0ae0, decimals: 0, metric: 'resp_rate_airway', value: v.awrr },
      { handle: 0x1b, physio: 0x50e8, unit: 0x0f40, decimals: 0, metric: 'airway_pressure_plateau', value: v.pplat },
      { handle: 0x1c, physio: 0x5284, unit: 0x0220, decimals: 0, metric: 'fio2', value: v.fio2 },
      { handle: 0x1d, physio: 0x5148, unit: 0x0c00, decimals: 1, metric: 'minute_volume', value: v.mv },
      { handle: 0x1e, physio: 0x51a8, unit: 0x0f40, decimals: 0, metric: 'peep', value: v.peep },
      { handle: 0x1f, physio: 0x51ac, unit: 0x0652, decimals: 0, metric: 'tidal_volume', value: v.tv },
      { handle: 0x20, physio: 0x51a5, unit: 0x0f40, decimals: 0, metric: 'airway_pressure_peak', value: v.ppeak },
      { handle: 0x21, physio: 0x51a7, unit: 0x0f40, decimals: 0, metric: 'airway_pressure_mean', value: v.pmean },
      { handle: 0x22, physio: 0x5022, unit: 0x0ae0, decimals: 0, metric: 'vent_resp_rate', value: 14 },
    ];
  }

  private observation(n: Numeric): Buffer {
    const attrs = new W();
    let count = 1;
    if (n.label !== undefined) {
      attrs.u16(0x0924).counted(new W().u32(n.label).buf());
      count++;
    }
    attrs.u16(0x0950).counted(new W().u16(n.physio).u16(0).u16(n.unit).u32(float32(n.value, n.decimals)).buf());
    return new W().u16(n.handle).u16(count).counted(attrs.buf()).buf();
  }

  private nbp(): Buffer {
    const v = this.v;
    const mean = Math.round((v.sys + 2 * v.dia) / 3);
    const comps = new W()
      .u16(0x4a05)
      .u16(0)
      .u16(0x0f20)
      .u32(float32(v.sys, 0))
      .u16(0x4a06)
      .u16(0)
      .u16(0x0f20)
      .u32(float32(v.dia, 0))
      .u16(0x4a07)
      .u16(0)
      .u16(0x0f20)
      .u32(float32(mean, 0))
      .buf();
    const attrs = new W().u16(0x0924).counted(new W().u32(0x00024a04).buf()).u16(0x094b).counted(new W().u16(3).counted(comps).buf()).buf();
    return new W().u16(0x16).u16(2).counted(attrs).buf();
  }

  /** RORS (or RORLS part) of an extended poll result around `observations`. */
  private pollResult(invokeId: number, pollNumber: number, objCode: number, observations: Buffer[], at: number, linkedState?: number): Buffer {
    const obsList = Buffer.concat(observations);
    const info = new W().u16(0).u16(observations.length).counted(obsList).buf(); // one context
    const result = new W()
      .u16(pollNumber)
      .u16(0)
      .u32(this.relTicks())
      .bytes(bcdTime(new Date(at)))
      .u16(1)
      .u16(objCode)
      .u16(0)
      .u16(1)
      .counted(info)
      .buf();
    const body = new W().u16(0x21).u16(0).u16(0).u16(0xf13b).counted(result).buf();
    const inner = new W().u16(invokeId).u16(7).counted(body).buf();
    const ro =
      linkedState === undefined
        ? new W().u16(2).counted(inner)
        : new W()
            .u16(5)
            .u16(2 + inner.length)
            .u8(linkedState)
            .u8(linkedState === 1 ? 1 : 2) // the part's number in the series (first, last)
            .bytes(inner);
    return new W().bytes([0xe1, 0, 0, 2]).bytes(ro.buf()).buf();
  }

  /** One numerics result; `part`: as that part of a linked periodic series, whole. */
  private numerics(invokeId: number, pollNumber: number, part?: number): void {
    this.drift();
    const ns = this.current();
    const v = this.v;
    const values: Record<string, number> = {};
    for (const n of ns) values[n.metric] = n.value;
    values.nibp_sys = v.sys;
    values.nibp_dia = v.dia;
    values.nibp_mean = Math.round((v.sys + 2 * v.dia) / 3);
    const obs = [...ns.map((n) => this.observation(n)), this.nbp()];
    const at = Math.floor(Date.now() / 1000) * 1000;
    const truth = { values, time: at };
    if (part !== undefined) this.send(this.pollResult(invokeId, pollNumber, 6, obs, at, part), truth);
    else if (this.o.linked) {
      const half = Math.ceil(obs.length / 2);
      this.send(this.pollResult(invokeId, pollNumber, 6, obs.slice(0, half), at, 1), {
        ...truth,
        values: Object.fromEntries(Object.entries(values).filter(([k]) => ns.slice(0, half).some((n) => n.metric === k))),
      });
      this.send(this.pollResult(invokeId, pollNumber, 6, obs.slice(half), at, 3), {
        ...truth,
        values: Object.fromEntries(Object.entries(values).filter(([k]) => !ns.slice(0, half).some((n) => n.metric === k))),
      });
    } else this.send(this.pollResult(invokeId, pollNumber, 6, obs, at), truth);
  }

  private alarmEntry(source: number, code: number, type: number): Buffer {
    const info = new W()
      .u16(1)
      .u32(0)
      .u16(type & 0x0404 ? 2 : 1)
      .u16(0x4000)
      .buf(); // GEN_ALMON_INFO
    return new W().u16(source).u16(code).u16(type).u16(0).u16(0x21).u16(0).u16(0).u16(513).counted(info).buf();
  }

  private alarms(invokeId: number, pollNumber: number, part?: number): void {
    const patient: Buffer[] = [];
    const technical: Buffer[] = [];
    const alarms: string[] = [];
    const tech: string[] = [];
    if (this.v.spo2 < 90) {
      patient.push(this.alarmEntry(0x4bb8, 0x0a0c, 0x0400));
      alarms.push('0x4bb8:0x0a0c');
    }
    if (this.tick % 45 >= 40) {
      technical.push(this.alarmEntry(0x4182, 0x0bb4, 0x0002));
      tech.push('0x4182:0x0bb4');
    }
    const list = (entries: Buffer[]): Buffer => new W().u16(entries.length).counted(Buffer.concat(entries)).buf();
    const attrs = new W().u16(0x0902).counted(list(patient)).u16(0x0904).counted(list(technical)).buf();
    const obs = new W().u16(0x01).u16(2).counted(attrs).buf();
    const at = Math.floor(Date.now() / 1000) * 1000;
    this.send(this.pollResult(invokeId, pollNumber, 0x36, [obs], at, part), { values: {}, alarms, technical: tech, time: at });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = monitorArgs(process.argv.slice(2));
  const sim = new IntellivueSimulator({
    port: a.port,
    seed: a.seed,
    faults: parseFaults(a.faults),
    linked: a.faults.includes('linked'),
    ...(a.truth ? { truth: a.truth } : {}),
  });
  sim.start();
  process.on('SIGINT', () => void sim.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void sim.stop().then(() => process.exit(0)));
}
