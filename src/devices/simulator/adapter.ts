/**
 * The simulated ward: N beds, each a SimulatedMonitor from hardware-mocks/, fed through
 * the same DeviceAdapter interface as real device families. The simulated monitors are
 * loaded with a dynamic import when the adapter starts, so only an enabled simulator brings
 * hardware-mocks/ into the process (nothing else in src/ imports it).
 *
 * Backpressure: while a submission is outstanding the simulator skips its ticks (a monitor
 * whose export the gateway does not read); it never queues readings.
 */
import type { MonitorSample, SimulatedMonitor } from '../../../hardware-mocks/ward-monitor.js';
import type { MetricId } from '../../catalogue.js';
import type { ReadingInput } from '../../reading.js';
import type { AdapterContext, AdapterStatus, DeviceAdapter, DeviceFamily } from '../types.js';

export interface SimulatorConfig {
  enabled: boolean;
  beds: number;
  interval: number;
  alarmRate: number;
  seed?: number | undefined;
}

/** Monitor labels and units as the simulated monitor reports them, mapped to the catalogue. */
const LABELS: Record<MonitorSample['label'], { metric: MetricId; unit: string }> = {
  HR: { metric: 'heart_rate', unit: '/min' },
  SpO2: { metric: 'spo2', unit: '%' },
  PR: { metric: 'pulse_rate_oximeter', unit: '/min' },
  RR: { metric: 'resp_rate', unit: '/min' },
  TEMP: { metric: 'body_temp', unit: 'Cel' },
  'NBP-S': { metric: 'nibp_sys', unit: 'mm[Hg]' },
  'NBP-D': { metric: 'nibp_dia', unit: 'mm[Hg]' },
  'NBP-M': { metric: 'nibp_mean', unit: 'mm[Hg]' },
  'ABP-S': { metric: 'abp_sys', unit: 'mm[Hg]' },
  'ABP-D': { metric: 'abp_dia', unit: 'mm[Hg]' },
  'ABP-M': { metric: 'abp_mean', unit: 'mm[Hg]' },
  etCO2: { metric: 'etco2', unit: 'mm[Hg]' },
  BATT: { metric: 'battery_level', unit: '%' },
};

export function bedName(i: number): string {
  return `BED-${String(i + 1).padStart(2, '0')}`;
}

export function sampleToInput(s: MonitorSample, bed: string, deviceId: string, patientId: string): ReadingInput {
  const m = LABELS[s.label];
  const input: ReadingInput = {
    deviceId,
    deviceKind: 'simulator',
    bed,
    patientId,
    metric: m.metric,
    value: s.value,
    unit: m.unit,
    deviceTime: s.time,
    priority: s.alarm ? 'alarm' : s.label === 'BATT' ? 'status' : 'vital',
    quality: ['simulated'],
  };
  if (s.alarm) input.extra = { alarm: s.alarm.code, severity: s.alarm.severity };
  return input;
}

/** Submissions outstanding at once; further ticks are skipped until one settles. */
export const MAX_PENDING_SUBMITS = 1;

export class SimulatorAdapter implements DeviceAdapter {
  readonly family = 'simulator';
  private timer: NodeJS.Timeout | null = null;
  private monitors: { monitor: SimulatedMonitor; bed: string; deviceId: string; patientId: string }[] = [];
  private ctx: AdapterContext | null = null;
  private starting = false;
  private pending = 0;
  private refused = 0;
  private skipped = 0;

  constructor(private readonly cfg: SimulatorConfig) {}

  async start(ctx: AdapterContext): Promise<void> {
    if (this.starting || this.timer) throw new Error('the simulator adapter is already started');
    this.starting = true;
    try {
      const { SimulatedMonitor } = await import('../../../hardware-mocks/ward-monitor.js');
      const cfg = this.cfg;
      const seed = cfg.seed ?? Math.floor(Math.random() * 2 ** 31);
      this.monitors = [];
      for (let i = 0; i < cfg.beds; i++) {
        const bed = bedName(i);
        this.monitors.push({
          monitor: new SimulatedMonitor({ bed, icu: i % 3 === 0, seed: seed + i, alarmRate: cfg.alarmRate }),
          bed,
          deviceId: `sim-monitor-${String(i + 1).padStart(2, '0')}`,
          patientId: `SIMPAT-${String(((seed + i) * 7919) % 1_000_000).padStart(6, '0')}`,
        });
      }
    } finally {
      this.starting = false;
    }
    this.ctx = ctx;
    this.tickAll();
    this.timer = setInterval(() => this.tickAll(), this.cfg.interval);
    ctx.log.info({ beds: this.cfg.beds, intervalMs: this.cfg.interval }, 'simulated ward started');
  }

  private tickAll(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    if (this.pending >= MAX_PENDING_SUBMITS) {
      // The pipeline has not taken the last tick yet: skip this one instead of queueing it.
      this.skipped++;
      return;
    }
    const now = Date.now();
    const inputs: ReadingInput[] = [];
    for (const m of this.monitors) for (const s of m.monitor.step(now)) inputs.push(sampleToInput(s, m.bed, m.deviceId, m.patientId));
    this.pending++;
    ctx.sink.submit(inputs).then(
      () => { this.pending--; },
      () => {
        // The buffer refused (counted by the pipeline); a real monitor would resend, the simulator moves on.
        this.pending--;
        this.refused += inputs.length;
      },
    );
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.pending > 0) await new Promise((r) => setTimeout(r, 5));
    this.ctx = null;
  }

  status(): AdapterStatus {
    const notes: string[] = [];
    if (this.refused) notes.push(`${this.refused} readings refused by the buffer`);
    if (this.skipped) notes.push(`${this.skipped} ticks skipped while the buffer was busy`);
    return { state: this.timer ? 'running' : 'stopped', devices: this.timer ? this.monitors.length : 0, ...(notes.length ? { detail: notes.join('; ') } : {}) };
  }
}

export const simulatorFamily: DeviceFamily<SimulatorConfig> = {
  name: 'simulator',
  create: (cfg) => (cfg.enabled ? [new SimulatorAdapter(cfg)] : []),
};
