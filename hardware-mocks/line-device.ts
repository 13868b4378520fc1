/**
 * A simulated bench device speaking the generic `wg1` line format (reference §7):
 * `$WG1,<id>,<ISO time>,HR=..,SPO2=..,PR=..,RR=..,TEMP=..*HH` once an interval, and `$WGA` alarm
 * lines when SpO2 crosses 90. The XOR checksum is computed here, independently of src/.
 *
 *   node --import tsx hardware-mocks/line-device.ts --port /dev/pts/N [--interval 1000] [--truth file]
 */
import { fileURLToPath } from 'node:url';
import { rng } from './rng.js';
import { monitorArgs } from './serial/cli.js';
import { DevicePort } from './serial/device-port.js';
import { applyFaults, type FaultOptions, parseFaults } from './serial/faults.js';
import { GroundTruth } from './serial/ground-truth.js';

export function wgLine(body: string): string {
  let x = 0;
  for (const ch of Buffer.from(body, 'latin1')) x ^= ch;
  return `$${body}*${x.toString(16).toUpperCase().padStart(2, '0')}\r\n`;
}

export class LineDeviceSimulator {
  private readonly rand: () => number;
  private readonly truth: GroundTruth;
  readonly port: DevicePort;
  private timer: NodeJS.Timeout | null = null;
  private v = { hr: 80, spo2: 95, pr: 80, rr: 16, temp: 36.9 };
  private low = false;
  private tick = 0;

  constructor(private readonly o: { port: string; id?: string; intervalMs?: number; seed?: number; truth?: string; faults?: FaultOptions }) {
    this.rand = rng(o.seed ?? 1);
    this.truth = new GroundTruth(o.truth);
    this.port = new DevicePort({ path: o.port, baudRate: 9600 });
  }

  start(): void {
    this.port.start();
    this.timer = setInterval(() => this.send(), this.o.intervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.port.stop();
  }

  private send(): void {
    if (!this.port.isOpen) return;
    const r = this.rand;
    const v = this.v;
    this.tick++;
    const dip = this.tick % 25 >= 20;
    v.hr = Math.round(v.hr + (80 - v.hr) * 0.2 + (r() - 0.5) * 4);
    v.pr = v.hr;
    v.spo2 = Math.round(Math.max(80, Math.min(100, v.spo2 + (dip ? -3 : (95 - v.spo2) * 0.4) + (r() - 0.5))));
    v.rr = Math.round(v.rr + (16 - v.rr) * 0.2 + (r() - 0.5) * 2);
    v.temp = Math.round((v.temp + (36.9 - v.temp) * 0.1 + (r() - 0.5) * 0.1) * 10) / 10;
    const at = Math.floor(Date.now() / 1000) * 1000;
    const iso = new Date(at).toISOString().replace('.000Z', 'Z');
    const id = this.o.id ?? 'bench-dev';
    let text = wgLine(`WG1,${id},${iso},HR=${v.hr},SPO2=${v.spo2},PR=${v.pr},RR=${v.rr},TEMP=${v.temp.toFixed(1)},ST=0`);
    const low = v.spo2 < 90;
    if (low !== this.low) text += wgLine(`WGA,${id},${iso},SPO2_LOW,HI,${low ? 'ON' : 'OFF'}`);
    this.low = low;
    const d = applyFaults(Buffer.from(text, 'latin1'), this.o.faults ?? {}, r, 10);
    if (!d.damaged && d.noise && d.noise[d.noise.length - 1] !== 0x0a) d.damaged = 'noise';
    for (const c of d.chunks) this.port.write(c);
    this.truth.record({
      values: { heart_rate: v.hr, spo2: v.spo2, pulse_rate_oximeter: v.pr, resp_rate: v.rr, body_temp: v.temp },
      time: at,
      ...(low ? { alarms: ['SPO2_LOW'] } : {}),
      ...(d.damaged ? { damaged: d.damaged } : {}),
    });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = monitorArgs(process.argv.slice(2));
  const sim = new LineDeviceSimulator({
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
