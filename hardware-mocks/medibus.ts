/**
 * A simulated Dräger device speaking MEDIBUS (reference §4), from the device's side, written
 * independently of src/: sends ICC every 3 s until answered, asks the PC for its device id once
 * linked, answers every command (ICC, NOP, measured data 0x24 with SpO2/pulse/RR/etCO2, alarms 0x27,
 * anything else with an empty echo), interleaves realtime bytes (>= 0x80) now and then, drops the
 * link after 3 s without traffic. 19200 8E1. Ground truth of each data response to --truth.
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
  readonly seen = { icc: 0, data: 0, alarms: 0, nop: 0, idReply: 0 };

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
    await this.port.stop();
  }

  private write(b: Buffer, corruptAt?: number): string | undefined {
    // Realtime bytes may appear anywhere: put a sync byte and a sample pair in the middle now and then.
    let out = b;
    if (this.rand() < 0.3) {
      const at = 1 + Math.floor(this.rand() * (b.length - 1));
      out = Buffer.concat([b.subarray(0, at), Buffer.from([0xd1, 0x94, 0x81]), b.subarray(at)]);
    }
    const d = applyFaults(out, this.o.faults ?? {}, this.rand, corruptAt ?? out.length - 2);
    for (const c of d.chunks) this.port.write(c);
    return d.damaged;
  }

  private onData(chunk: Buffer): void {
    for (const b of chunk) {
      if (b >= 0x80) continue;
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
        if (m[0] === 0x1b) this.command(m[1]!);
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

  private command(code: number): void {
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
