/**
 * A simulated Dräger device speaking MEDIBUS (reference §4), from the device's side, written
 * independently of src/: sends ICC every 3 s until answered, asks the PC for its device id once
 * linked, answers every command (ICC, NOP, measured data 0x24 with SpO2/pulse/RR/etCO2, alarms 0x27,
 * anything else with an empty echo), drops the link after 3 s without traffic. 19200 8E1. Ground truth
 * of each data response to --truth.
 *
 * Realtime (§4.5): answers "request realtime configuration" (0x53) with three curves (00 airway
 * pressure, 01 flow, 06 CO2; 23 characters each), takes "configure realtime transmission" (0x54,
 * code + multiplier pairs: streams 1..n in that order), and once the PC enables streams with the
 * sync command `D0 C1 <bits> C0 C0` sends a realtime record every 10 ms: a sync byte whose bits
 * say which streams follow (a stream with multiplier m every m-th sample), now and then the sync
 * command "start of inspiration" (C6 C0), then each value as two bytes, low 6 bits first. Records
 * go out alone or spliced into the middle of a slow message. Each record's values (the physical
 * value of the raw 12 bits, min + raw x (max - min) / maxbin) go to the ground truth as `waves`.
 * Before the PC configured realtime it still drops a stray sync byte and sample into slow messages
 * now and then (the PC must ignore realtime bytes it did not ask for).
 *
 *   node --import tsx hardware-mocks/medibus.ts --port /dev/pts/N [--truth file] [--faults ...]
 */
import { fileURLToPath } from 'node:url';
import { rng } from './rng.js';
import { monitorArgs } from './serial/cli.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { GroundTruth } from './serial/ground-truth.js';

/** One slow-protocol message: start byte, code, text, checksum as two upper-case hex digits, CR. */
export function message(start: 0x1b | 0x01, code: number, text = ''): Buffer {
  const bytes = [start, code, ...Buffer.from(text, 'latin1')];
  const sum = bytes.reduce((a, b) => (a + b) % 256, 0);
  return Buffer.from([...bytes, ...Buffer.from(sum.toString(16).toUpperCase().padStart(2, '0'), 'latin1'), 0x0d]);
}

const field = (code: number, v: string): string => code.toString(16).toUpperCase().padStart(2, '0') + v.padStart(4, ' ').slice(-4);
const hexCode = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

/** The curves this device offers (Evita table: 00 airway pressure mbar, 01 flow L/min, 06 expired CO2 mmHg). */
const RT_CURVES = [
  {
    code: 0x00,
    metric: 'airway_pressure_wave',
    intervalUs: 10_000,
    min: -10,
    max: 100,
    maxbin: 0x370,
    wave: (t: number) => 5 + 15 * Math.max(0, Math.sin(t / 40)),
  },
  { code: 0x01, metric: 'airway_flow_wave', intervalUs: 10_000, min: -120, max: 120, maxbin: 0xfff, wave: (t: number) => 40 * Math.sin(t / 40) },
  { code: 0x06, metric: 'co2_wave', intervalUs: 10_000, min: -20, max: 100, maxbin: 0x460, wave: (t: number) => (Math.sin(t / 40) < 0 ? 38 : 2) },
] as const;
type Curve = (typeof RT_CURVES)[number];

/** One curve of the 0x53 response: code 2, interval µs 8, MIN 5, MAX 5 (leading spaces), MAXBIN 3 hex. */
export const rtConfigText = (c: { code: number; intervalUs: number; min: number; max: number; maxbin: number }): string =>
  hexCode(c.code) +
  String(c.intervalUs).padStart(8, ' ') +
  String(c.min).padStart(5, ' ') +
  String(c.max).padStart(5, ' ') +
  c.maxbin.toString(16).toUpperCase().padStart(3, '0');

export class MedibusSimulator {
  private readonly rand: () => number;
  private readonly truth: GroundTruth;
  readonly port: DevicePort;
  private linked = false;
  private lastTraffic = 0;
  private timer: NodeJS.Timeout | null = null;
  private buf: number[] = [];
  private v = { spo2: 96, pulse: 78, rr: 14, etco2: 36 };
  private tick = 0;
  readonly seen = { icc: 0, data: 0, alarms: 0, nop: 0, idReply: 0, rtConfig: 0, rtConfigure: 0, rtEnable: 0 };
  /** Streams 1..n as the PC configured them (0x54), with their multipliers. */
  private rtStreams: { curve: Curve; multiplier: number }[] = [];
  private rtEnabled = 0;
  private rtTimer: NodeJS.Timeout | null = null;
  private rtSample = 0;
  /** Realtime bytes waiting to be spliced into the next slow message (at most a few records). */
  private rtPending: number[] = [];
  private rtHeld = 0;
  /** Parser of the sync commands the PC sends (bytes >= 0x80). */
  private rtIn: { command: number } = { command: -1 };

  constructor(private readonly o: { port: string; seed?: number; truth?: string; faults?: FaultOptions }) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({
      path: o.port,
      baudRate: 19200,
      parity: 'even',
      onData: (c) => this.onData(c),
      onOpen: () => {
        this.linked = false;
        this.buf = [];
        this.rtReset();
      },
    });
  }

  start(): void {
    this.port.start();
    this.timer = setInterval(() => {
      if (Date.now() - this.lastTraffic > 3000) this.linked = false;
      if (!this.linked) this.write(message(0x1b, 0x51)); // ICC until answered
    }, 3000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.rtReset();
    await this.port.stop();
  }

  private rtReset(): void {
    if (this.rtTimer) clearInterval(this.rtTimer);
    this.rtTimer = null;
    this.rtStreams = [];
    this.rtEnabled = 0;
    this.rtPending = [];
    this.rtIn.command = -1;
  }

  private write(b: Buffer, corruptAt?: number): string | undefined {
    // Realtime bytes may appear anywhere in a slow message: the pending realtime records, or (before the
    // PC configured realtime) a stray sync byte and sample now and then.
    let out = b;
    let rt: number[] = [];
    if (this.rtPending.length > 0) {
      rt = this.rtPending;
      this.rtPending = [];
    } else if (this.rtStreams.length === 0 && this.rand() < 0.3) rt = [0xd1, 0x94, 0x81];
    let at = out.length - 2;
    if (rt.length > 0) {
      at = 1 + Math.floor(this.rand() * (b.length - 1));
      out = Buffer.concat([b.subarray(0, at), Buffer.from(rt), b.subarray(at)]);
    }
    const c = corruptAt ?? b.length - 2;
    const d = applyFaults(out, this.o.faults ?? {}, this.rand, c >= at ? c + rt.length : c);
    for (const ch of d.chunks) this.port.write(ch);
    return d.damaged;
  }

  /** Sync commands from the PC: `D0 C1 <1100 bits> C0 C0` enables streams 1-4. */
  private rtByte(b: number): void {
    if (this.rtIn.command >= 0) {
      if (this.rtIn.command === 0xc1) this.rtEnable(b & 0x0f);
      this.rtIn.command = -1;
    } else if ((b & 0xf0) === 0xc0) this.rtIn.command = b;
  }

  private rtEnable(bits: number): void {
    this.seen.rtEnable++;
    this.rtEnabled = bits;
    if (bits === 0 || this.rtStreams.length === 0) {
      if (this.rtTimer) clearInterval(this.rtTimer);
      this.rtTimer = null;
      return;
    }
    if (!this.rtTimer) this.rtTimer = setInterval(() => this.rtRecord(), 10);
  }

  /** One realtime record: sync byte, maybe "start of inspiration", the due streams' values. */
  private rtRecord(): void {
    if (!this.port.isOpen) return;
    const n = this.rtSample++;
    const due = this.rtStreams
      .map((s, i) => ({ ...s, stream: i + 1 }))
      .filter((s) => s.stream <= 4 && this.rtEnabled & (1 << (s.stream - 1)) && n % s.multiplier === 0);
    const inspiration = n % 250 === 0;
    if (due.length === 0 && !inspiration) return;
    let sync = 0xd0;
    for (const s of due) sync |= 1 << (s.stream - 1);
    const bytes = [sync];
    if (inspiration) bytes.push(0xc6, 0xc0, ...(due.length === 0 ? [0xc0, 0xc0] : []));
    const waves: Record<string, number[]> = {};
    for (const s of due) {
      const c = s.curve;
      const v = c.wave(n);
      const raw = Math.max(0, Math.min(c.maxbin, Math.round(((v - c.min) * c.maxbin) / (c.max - c.min))));
      bytes.push(0x80 | (raw & 0x3f), 0x80 | ((raw >> 6) & 0x3f));
      waves[c.metric] = [...(waves[c.metric] ?? []), c.min + (raw * (c.max - c.min)) / c.maxbin];
    }
    if (due.length > 0) this.truth.record({ values: {}, waves });
    this.rtPending.push(...bytes);
    // Alone now, or in the middle of the next slow message (held for at most three records).
    if (this.rand() < 0.5 || ++this.rtHeld > 3) {
      this.rtHeld = 0;
      const out = Buffer.from(this.rtPending);
      this.rtPending = [];
      this.port.write(out);
    }
  }

  private onData(chunk: Buffer): void {
    for (const b of chunk) {
      if (b >= 0x80) {
        this.rtByte(b);
        continue;
      }
      if (b === 0x1b || b === 0x01) this.buf = [b];
      else if (b === 0x0d) {
        const m = this.buf;
        this.buf = [];
        if (m.length < 4) continue;
        const sum = m.slice(0, -2).reduce((a, x) => (a + x) % 256, 0);
        if (String.fromCharCode(m[m.length - 2]!, m[m.length - 1]!) !== sum.toString(16).toUpperCase().padStart(2, '0')) {
          this.write(message(0x01, 0x15)); // NAK
          continue;
        }
        this.lastTraffic = Date.now();
        if (m[0] === 0x1b) this.command(m[1]!, Buffer.from(m.slice(2, -2)).toString('latin1'));
        else if (m[1] === 0x51) this.link();
        else if (m[1] === 0x52) this.seen.idReply++;
      } else if (this.buf.length > 0 && this.buf.length < 512) this.buf.push(b);
    }
  }

  private link(): void {
    if (this.linked) return;
    this.linked = true;
    this.write(message(0x1b, 0x52)); // who are you?
  }

  private command(code: number, arg = ''): void {
    if (code === 0x51) {
      this.seen.icc++;
      this.write(message(0x01, 0x51));
      this.link();
    } else if (code === 0x30) {
      this.seen.nop++;
      this.write(message(0x01, 0x30));
    } else if (code === 0x24) {
      this.seen.data++;
      this.data();
    } else if (code === 0x27) {
      this.seen.alarms++;
      const on = this.v.spo2 < 90;
      this.write(message(0x01, 0x27, on ? `${String.fromCharCode(0x30 + 27)}EB${'SPO2 LOW'.padEnd(12, ' ')}` : ''));
    } else if (code === 0x53) {
      this.seen.rtConfig++;
      this.write(message(0x01, 0x53, RT_CURVES.map(rtConfigText).join('')));
    } else if (code === 0x54) {
      // Pairs of 2 hex code + 2 hex multiplier; a new configuration stops the streams until enabled again.
      this.seen.rtConfigure++;
      this.rtReset();
      for (let i = 0; i + 4 <= arg.length; i += 4) {
        const curve = RT_CURVES.find((c) => c.code === parseInt(arg.slice(i, i + 2), 16));
        const multiplier = parseInt(arg.slice(i + 2, i + 4), 16);
        if (curve && multiplier > 0) this.rtStreams.push({ curve, multiplier });
      }
      this.write(message(0x01, 0x54));
    } else if (code === 0x55) {
      this.write(message(0x01, 0x55));
      this.linked = false;
    } else this.write(message(0x01, code)); // every command is answered
  }

  private data(): void {
    const r = this.rand;
    const v = this.v;
    this.tick++;
    const dip = this.tick % 30 >= 25;
    v.spo2 = Math.round(Math.max(80, Math.min(100, v.spo2 + (dip ? -3 : (96 - v.spo2) * 0.4) + (r() - 0.5))));
    v.pulse = Math.round(v.pulse + (78 - v.pulse) * 0.2 + (r() - 0.5) * 4);
    v.rr = Math.round(v.rr + (14 - v.rr) * 0.2 + (r() - 0.5) * 2);
    v.etco2 = Math.round((v.etco2 + (36 - v.etco2) * 0.2 + (r() - 0.5)) * 10) / 10;
    const text = field(0xeb, String(v.spo2)) + field(0xe1, String(v.pulse)) + field(0xd6, String(v.rr)) + field(0xe6, v.etco2.toFixed(1)) + field(0x88, '450');
    const damaged = this.write(message(0x01, 0x24, text));
    this.truth.record({
      values: { spo2: v.spo2, pulse_rate_oximeter: v.pulse, resp_rate: v.rr, etco2: v.etco2 },
      ...(v.spo2 < 90 ? { alarms: ['SPO2 LOW'] } : {}),
      ...(damaged ? { damaged } : {}),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = monitorArgs(process.argv.slice(2));
  const sim = new MedibusSimulator({ port: a.port, seed: a.seed, faults: parseFaults(a.faults), ...(a.truth ? { truth: a.truth } : {}) });
  sim.start();
  process.on('SIGINT', () => void sim.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void sim.stop().then(() => process.exit(0)));
}
