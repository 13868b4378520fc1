/** Synthetic readings for forwarder tests and benchmarks, and a driver that ingests them at a steady rate. */
import type { MetricId } from '../../src/catalogue.js';
import type { PendingReading, PriorityClass, ReadingInput } from '../../src/reading.js';

const METRICS: { metric: MetricId; unit: string; base: number; spread: number }[] = [
  { metric: 'heart_rate', unit: '/min', base: 60, spread: 40 },
  { metric: 'spo2', unit: '%', base: 90, spread: 10 },
  { metric: 'resp_rate', unit: '/min', base: 10, spread: 15 },
  { metric: 'nibp_sys', unit: 'mm[Hg]', base: 100, spread: 40 },
  { metric: 'body_temp', unit: 'Cel', base: 36, spread: 2 },
];

export interface SyntheticOptions {
  devices?: number;
  /** Every n-th reading is an alarm (0 = none). Default 0. */
  alarmEvery?: number;
  /** Every n-th reading is a status reading (0 = none). Default 0. */
  statusEvery?: number;
}

export function devicesOf(n: number): string[] {
  return Array.from({ length: n }, (_, d) => `sim-dev-${String(d).padStart(3, '0')}`);
}

/** Reading input number i (0-based): device i % devices, a vital metric, sometimes an alarm or status. */
export function syntheticInput(i: number, o: SyntheticOptions = {}, now = Date.now()): ReadingInput {
  const devices = o.devices ?? 36;
  const d = i % devices;
  const m = METRICS[Math.floor(i / devices) % METRICS.length]!;
  let priority: PriorityClass = 'vital';
  if (o.alarmEvery && i % o.alarmEvery === o.alarmEvery - 1) priority = 'alarm';
  else if (o.statusEvery && i % o.statusEvery === o.statusEvery - 1) priority = 'status';
  const input: ReadingInput = {
    deviceId: `sim-dev-${String(d).padStart(3, '0')}`,
    deviceKind: 'simulator',
    bed: `BED-${String(d + 1).padStart(2, '0')}`,
    patientId: `SIMPAT-${String(100_000 + d)}`,
    metric: priority === 'status' ? 'battery_level' : m.metric,
    value: priority === 'status' ? 80 : m.base + ((i * 7919) % 1000) / (1000 / m.spread),
    unit: priority === 'status' ? '%' : m.unit,
    deviceTime: now - 20,
    priorityClass: priority,
    quality: ['simulated'],
  };
  if (priority === 'alarm') input.extra = { alarm: 'HR_HIGH', severity: 'high' };
  return input;
}

/** The same, already normalised (for appending straight to the buffer). */
export function syntheticPending(i: number, o: SyntheticOptions = {}, now = Date.now()): PendingReading {
  const inp = syntheticInput(i, o, now);
  return {
    deviceId: inp.deviceId,
    deviceKind: inp.deviceKind,
    bed: inp.bed,
    ...(inp.patientId !== undefined ? { patientId: inp.patientId } : {}),
    metric: inp.metric as MetricId,
    value: inp.value,
    unit: inp.unit!,
    deviceTime: inp.deviceTime!,
    gatewayTime: now,
    priorityClass: inp.priorityClass!,
    quality: ['simulated'],
    ...(inp.extra ? { extra: inp.extra } : {}),
  };
}

/**
 * Submits `ratePerSecond` readings per second in ticks of `tickMs`, catching up when a tick is
 * late, so the achieved rate holds even on a busy machine. Counts readings whose submit
 * resolved (committed) and rejected.
 */
export class PacedIngest {
  submitted = 0;
  committed = 0;
  failed = 0;
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly submit: (inputs: ReadingInput[]) => Promise<void>,
    private readonly ratePerSecond: number,
    private readonly opts: SyntheticOptions & { tickMs?: number; onSubmit?: (inputs: ReadingInput[], at: number) => void } = {},
  ) {}

  start(): void {
    this.t0 = Date.now();
    const tick = (): void => {
      const due = Math.floor(((Date.now() - this.t0) * this.ratePerSecond) / 1000);
      const n = due - this.submitted;
      if (n > 0) {
        const now = Date.now();
        const batch = Array.from({ length: n }, (_, k) => syntheticInput(this.submitted + k, this.opts, now));
        this.submitted += n;
        this.opts.onSubmit?.(batch, now);
        const p = this.submit(batch).then(
          () => {
            this.committed += n;
          },
          () => {
            this.failed += n;
          },
        );
        this.inflight.add(p);
        void p.finally(() => this.inflight.delete(p));
      }
      this.timer = setTimeout(tick, this.opts.tickMs ?? 25);
    };
    tick();
  }

  /** Stops submitting and waits for the submits in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inflight]);
  }

  /** Achieved rate so far, readings per second. */
  rate(): number {
    return (this.submitted * 1000) / Math.max(1, Date.now() - this.t0);
  }
}
