/**
 * A simulated Nonin oximeter (reference §5.3), 9600 8N1, free-running:
 *  - format 2 (OEM III default): 75 five-byte frames a second in packets of 25, `01 STATUS PLETH
 *    FLOAT CHK`, HR split 2+7 bits over frames 1/2, SpO2 in frame 3, SYNC bit in frame 1;
 *  - format 8: one 4-byte frame a second.
 * Every 30th second the finger is out (sensor disconnected, missing values 511/127).
 *
 *   node --import tsx hardware-mocks/nonin.ts --port /dev/pts/N [--format 2|8] [--interval 1000] [--truth file]
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rng } from './rng.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { GroundTruth } from './serial/ground-truth.js';

export interface NoninOptions {
  port: string;
  format?: 2 | 8;
  /** One packet (format 2) or frame (format 8) every intervalMs (1000 / 3 and 1000 on a real device). */
  intervalMs?: number;
  seed?: number;
  truth?: string;
  faults?: FaultOptions;
}

export class NoninSimulator {
  private readonly rand: () => number;
  private readonly truth: GroundTruth;
  readonly port: DevicePort;
  private timer: NodeJS.Timeout | null = null;
  private tick = 0;
  private hr = 75;
  private spo2 = 96;

  constructor(private readonly o: NoninOptions) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({ path: o.port, baudRate: 9600 });
  }

  start(): void {
    this.port.start();
    const format = this.o.format ?? 2;
    this.timer = setInterval(() => this.send(), this.o.intervalMs ?? (format === 2 ? 333 : 1000));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.port.stop();
  }

  private send(): void {
    if (!this.port.isOpen) return;
    const r = this.rand;
    this.tick++;
    const out = this.tick % 30 === 29;
    this.hr = Math.round(Math.max(30, Math.min(300, this.hr + (75 - this.hr) * 0.2 + (r() - 0.5) * 6)));
    this.spo2 = Math.round(Math.max(70, Math.min(100, this.spo2 + (96 - this.spo2) * 0.3 + (r() - 0.5) * 2)));
    const hr = out ? 511 : this.hr;
    const spo2 = out ? 127 : this.spo2;
    let bytes: Buffer;
    if ((this.o.format ?? 2) === 8) {
      bytes = Buffer.from([0x80 | (out ? 0x40 : 0) | ((hr >> 7) & 0x03), hr & 0x7f, spo2, 0]);
    } else {
      const frames: number[] = [];
      for (let f = 1; f <= 25; f++) {
        const status = 0x80 | (out ? 0x40 : 0x02) | (f === 1 ? 0x01 : 0);
        const pleth = Math.round(128 + 100 * Math.sin(f / 4)) & 0xff;
        const float = f === 1 ? (hr >> 7) & 0x03 : f === 2 ? hr & 0x7f : f === 3 ? spo2 : f === 4 ? 0x30 : 0;
        frames.push(0x01, status, pleth, float, (0x01 + status + pleth + float) & 0xff);
      }
      bytes = Buffer.from(frames);
    }
    const d = applyFaults(bytes, this.o.faults ?? {}, r, 8);
    for (const c of d.chunks) this.port.write(c);
    this.truth.record({
      values: out ? {} : { spo2, pulse_rate_oximeter: hr },
      ...(out ? { technical: ['SENSOR_OFF'] } : {}),
      ...(d.damaged ? { damaged: d.damaged } : {}),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      format: { type: 'string', default: '2' },
      interval: { type: 'string' },
      seed: { type: 'string', default: '1' },
      truth: { type: 'string' },
      faults: { type: 'string', default: '' },
    },
  });
  if (!values.port) throw new Error('--port <path> is required');
  const sim = new NoninSimulator({
    port: values.port,
    format: values.format === '8' ? 8 : 2,
    seed: Number(values.seed),
    faults: parseFaults(values.faults ? values.faults.split(',') : []),
    ...(values.interval ? { intervalMs: Number(values.interval) } : {}),
    ...(values.truth ? { truth: values.truth } : {}),
  });
  sim.start();
  process.on('SIGINT', () => void sim.stop().then(() => process.exit(0)));
  process.on('SIGTERM', () => void sim.stop().then(() => process.exit(0)));
}
