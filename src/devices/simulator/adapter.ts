/**
 * The simulated ward: N beds, each a SimulatedMonitor from hardware-mocks/, fed through
 * the same DeviceAdapter interface as real device families. The simulated monitors are
 * loaded with a dynamic import when the adapter starts, so only an enabled simulator brings
 * hardware-mocks/ into the process (nothing else in src/ imports it).
 *
 * Timing: each monitor ticks on its own timer, with its own phase in the interval (drawn
 * from the seed) and a jitter of up to JITTER of the interval on each tick, so the beds'
 * readings arrive spread over the second as on a real ward, not all in one instant (which
 * would let the buffer commit a whole ward at once and flatter its write figures).
 *
 * Backpressure: while MAX_PENDING_SUBMITS of a monitor's submissions are outstanding it
 * skips its ticks (a monitor whose export the gateway does not read); it never queues
 * readings. Two, because a vital's commit may wait up to its class's delay (1 s).
 */
import type { MonitorSample, SimulatedMonitor } from '../../../hardware-mocks/ward-monitor.js';
import type { MetricId } from '../../catalogue.js';
import { PendingCount } from '../../pending-count.js';
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
    priorityClass: s.alarm ? 'alarm' : s.label === 'BATT' ? 'status' : 'vital',
    quality: ['simulated'],
    extra: s.alarm ? { alarm: s.alarm.code, severity: s.alarm.severity } : undefined,
  };
  return input;
}

/** Submissions outstanding at once per monitor; its further ticks are skipped until one settles. */
export const MAX_PENDING_SUBMITS = 2;
/** Each tick comes up to this fraction of the interval early or late. */
const JITTER = 0.05;

interface SimMonitor {
  monitor: SimulatedMonitor;
  bed: string;
  deviceId: string;
  patientId: string;
  /** The monitor's own random stream for its phase and jitter (not the monitor's values). */
  rand: () => number;
  timer: NodeJS.Timeout | null;
  /** The monitor's timer callback, made once: V8 keeps a function's optimised code only while one of its closures lives (README, Performance). */
  onTimer: () => void;
  pending: number;
}

/** mulberry32: a small seeded generator for phases and jitter. */
function timingRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class SimulatorAdapter implements DeviceAdapter {
  readonly family = 'simulator';
  private running = false;
  private monitors: SimMonitor[] = [];
  private ctx: AdapterContext | null = null;
  private starting = false;
  private refused = 0;
  private skipped = 0;
  /** Submissions of all monitors with the sink; stop() waits for them. */
  private readonly inFlight = new PendingCount();

  constructor(private readonly cfg: SimulatorConfig) {}

  async start(ctx: AdapterContext): Promise<void> {
    if (this.starting || this.running) throw new Error('the simulator adapter is already started');
    this.starting = true;
    try {
      const { SimulatedMonitor } = await import('../../../hardware-mocks/ward-monitor.js');
      const cfg = this.cfg;
      const seed = cfg.seed ?? Math.floor(Math.random() * 2 ** 31);
      this.monitors = [];
      for (let i = 0; i < cfg.beds; i++) {
        const bed = bedName(i);
        const m: SimMonitor = {
          monitor: new SimulatedMonitor({ bed, icu: i % 3 === 0, seed: seed + i, alarmRate: cfg.alarmRate }),
          bed,
          deviceId: `sim-monitor-${String(i + 1).padStart(2, '0')}`,
          patientId: `SIMPAT-${String(((seed + i) * 7919) % 1_000_000).padStart(6, '0')}`,
          rand: timingRng((seed + i) ^ 0x5bd1e995),
          timer: null,
          onTimer: () => this.tick(m),
          pending: 0,
        };
        this.monitors.push(m);
      }
    } finally {
      this.starting = false;
    }
    this.ctx = ctx;
    this.running = true;
    const interval = this.cfg.interval;
    // Each monitor's first tick at its own phase in the interval.
    for (const m of this.monitors) m.timer = setTimeout(m.onTimer, Math.floor(m.rand() * interval));
    ctx.log.info({ beds: this.cfg.beds, intervalMs: interval }, 'simulated ward started');
  }

  private tick(m: SimMonitor): void {
    const ctx = this.ctx;
    if (!ctx || !this.running) return;
    const interval = this.cfg.interval;
    m.timer = setTimeout(m.onTimer, Math.max(1, Math.round(interval * (1 + (m.rand() * 2 - 1) * JITTER))));
    if (m.pending >= MAX_PENDING_SUBMITS) {
      // The pipeline has not taken this monitor's last ticks yet: skip this one instead of queueing it.
      this.skipped++;
      return;
    }
    const now = Date.now();
    const inputs: ReadingInput[] = [];
    for (const s of m.monitor.step(now)) inputs.push(sampleToInput(s, m.bed, m.deviceId, m.patientId));
    m.pending++;
    this.inFlight.add();
    void this.submitted(ctx, m, inputs);
  }

  /** Settles a tick's submission: a method and a loop above, not closures made per tick (JIT, as above). */
  private async submitted(ctx: AdapterContext, m: SimMonitor, inputs: ReadingInput[]): Promise<void> {
    try {
      await ctx.sink.submit(inputs);
    } catch {
      // The buffer refused (counted by the pipeline); a real monitor would resend, the simulator moves on.
      this.refused += inputs.length;
    }
    m.pending--;
    this.inFlight.done();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const m of this.monitors) {
      if (m.timer) clearTimeout(m.timer);
      m.timer = null;
    }
    await this.inFlight.whenZero();
    this.ctx = null;
  }

  status(): AdapterStatus {
    const notes: string[] = [];
    if (this.refused) notes.push(`${this.refused} readings refused by the buffer`);
    if (this.skipped) notes.push(`${this.skipped} ticks skipped while the buffer was busy`);
    return {
      state: this.running ? 'running' : 'stopped',
      devices: this.running ? this.monitors.length : 0,
      ...(notes.length ? { detail: notes.join('; ') } : {}),
    };
  }
}

export const simulatorFamily: DeviceFamily<SimulatorConfig> = {
  name: 'simulator',
  create: (cfg) => (cfg.enabled ? [new SimulatorAdapter(cfg)] : []),
};
