/**
 * A simulated Masimo Radical-7 in "ASCII 1" output mode (reference §5.1): one line a second,
 * 9600 8N1, CR LF, drifting SpO2 and pulse, dash-filled values while the sensor is off,
 * occasional low-SpO2 alarms. Writes what it sent to --truth (JSON lines).
 *
 *   node --import tsx hardware-mocks/masimo.ts --port /dev/pts/N [--interval 1000] [--truth file] [--faults noise=0.1,split=4]
 */
import { fileURLToPath } from 'node:url';
import { rng } from './rng.js';
import { monitorArgs } from './serial/cli.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { GroundTruth } from './serial/ground-truth.js';

const p2 = (n: number): string => String(n).padStart(2, '0');

export interface MasimoState {
  spo2: number | null;
  bpm: number | null;
  pi: number | null;
  alarm: number;
  exc: number;
}

/** One ASCII 1 line, Radical-7 layout, built from the manual's field list (not from the gateway's parser). */
export function masimoLine(t: Date, s: MasimoState, serial = '0000012345'): string {
  const date = `${p2(t.getMonth() + 1)}/${p2(t.getDate())}/${p2(t.getFullYear() % 100)} ${p2(t.getHours())}:${p2(t.getMinutes())}:${p2(t.getSeconds())}`;
  const spo2 = s.spo2 === null ? '---' : String(s.spo2).padStart(3, '0');
  const bpm = s.bpm === null ? '---' : String(s.bpm).padStart(3, '0');
  const pi = s.pi === null ? '--.--' : s.pi.toFixed(2).padStart(5, '0');
  const alarm = s.alarm.toString(16).toUpperCase().padStart(4, '0');
  const exc = s.exc.toString(16).toUpperCase().padStart(6, '0');
  const dash = s.spo2 === null;
  return (
    `${date} SN=${serial} SPO2=${spo2}% BPM=${bpm} PI=${pi}% SPCO=${dash ? '--.-' : '00.9'}% SPMET=${dash ? '--.-' : '00.6'}% ` +
    `DESAT=${dash ? '--' : '00'} PIDELTA=+${dash ? '--' : '00'} PVI=${dash ? '---' : '014'} ALARM=${alarm} EXC=${exc}\r\n`
  );
}

export class MasimoSimulator {
  private readonly rand: () => number;
  private readonly truth: GroundTruth;
  private timer: NodeJS.Timeout | null = null;
  private spo2 = 97;
  private bpm = 72;
  private tick = 0;
  readonly port: DevicePort;

  constructor(private readonly o: { port: string; intervalMs?: number; seed?: number; truth?: string; faults?: FaultOptions }) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({ path: o.port, baudRate: 9600 });
  }

  start(): void {
    this.port.start();
    this.timer = setInterval(() => this.send(), this.o.intervalMs ?? 1000);
  }

  /** The next state: drift, every 40th second a 5 s desaturation with its alarm, every 97th a 3 s sensor-off. */
  private next(): MasimoState {
    const r = this.rand;
    this.tick++;
    const off = this.tick % 97 >= 94;
    const desat = this.tick % 40 >= 35;
    this.spo2 = Math.max(80, Math.min(100, Math.round(this.spo2 + (desat ? -2 : (97 - this.spo2) * 0.3) + (r() - 0.5) * 2)));
    this.bpm = Math.max(40, Math.min(180, Math.round(this.bpm + (72 - this.bpm) * 0.2 + (r() - 0.5) * 4)));
    if (off) return { spo2: null, bpm: null, pi: null, alarm: 0, exc: 0x000820 };
    const low = this.spo2 < 90;
    return { spo2: this.spo2, bpm: this.bpm, pi: Math.round(100 + r() * 400) / 100, alarm: low ? 0x0012 : 0, exc: 0x000800 };
  }

  send(): void {
    if (!this.port.isOpen) return;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const s = this.next();
    const bytes = Buffer.from(masimoLine(now, s), 'latin1');
    const d = applyFaults(bytes, this.o.faults ?? {}, this.rand, -1);
    // Noise not ending in LF runs into this line: the line is then garbage too.
    if (!d.damaged && d.noise && d.noise[d.noise.length - 1] !== 0x0a) d.damaged = 'noise';
    for (const c of d.chunks) this.port.write(c);
    const values: Record<string, number> = {};
    if (s.spo2 !== null) values.spo2 = s.spo2;
    if (s.bpm !== null) values.pulse_rate_oximeter = s.bpm;
    if (s.pi !== null) values.perfusion_index = s.pi;
    this.truth.record({
      values,
      time: now.getTime(),
      ...(s.alarm & 0x2 ? { alarms: ['SPO2_LOW'] } : {}),
      ...(s.exc & 0x20 ? { technical: ['SENSOR_OFF'] } : {}),
      ...(d.damaged ? { damaged: d.damaged } : {}),
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.port.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = monitorArgs(process.argv.slice(2));
  const sim = new MasimoSimulator({
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
