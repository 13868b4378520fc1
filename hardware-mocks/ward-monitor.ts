/**
 * A simulated bedside monitor: vitals that drift plausibly around a per-patient baseline,
 * with occasional alarm episodes (desaturation, tachycardia, bradycardia, hypotension).
 * It knows nothing of wardgate's model: it produces what a monitor would report.
 */

import { rng } from './rng.js';

export interface MonitorSample {
  /** Label as the monitor names it. */
  label: 'HR' | 'SpO2' | 'PR' | 'RR' | 'TEMP' | 'NBP-S' | 'NBP-D' | 'NBP-M' | 'ABP-S' | 'ABP-D' | 'ABP-M' | 'etCO2' | 'BATT';
  value: number;
  unit: string;
  /** Monitor clock, ms since the epoch. */
  time: number;
  /** Set when the monitor raises an alarm on this parameter. */
  alarm?: { code: string; severity: 'high' | 'medium' };
}

interface Episode {
  kind: 'desat' | 'tachy' | 'brady' | 'hypotension';
  remaining: number;
}

const round = (v: number, digits: number): number => Number(v.toFixed(digits));

export interface MonitorOptions {
  bed: string;
  /** ICU beds also report invasive arterial pressure and end-tidal CO2. */
  icu: boolean;
  seed: number;
  /** Probability per tick that an alarm episode starts. */
  alarmRate: number;
}

export class SimulatedMonitor {
  private readonly rand: () => number;
  private tick = 0;
  private episode: Episode | null = null;
  private readonly base: { hr: number; spo2: number; rr: number; temp: number; sys: number; dia: number; etco2: number };
  private state: { hr: number; spo2: number; rr: number; temp: number; sys: number; dia: number; etco2: number; batt: number };
  private readonly raised = new Set<string>();

  constructor(readonly opts: MonitorOptions) {
    this.rand = rng(opts.seed);
    const r = this.rand;
    this.base = {
      hr: 65 + r() * 30,
      spo2: 95 + r() * 4,
      rr: 12 + r() * 8,
      temp: 36.4 + r() * 1.2,
      sys: 105 + r() * 35,
      dia: 60 + r() * 20,
      etco2: 34 + r() * 8,
    };
    this.state = { ...this.base, batt: 60 + r() * 40 };
  }

  /** Advances one second and returns what the monitor reports at `now`. */
  step(now: number): MonitorSample[] {
    this.tick++;
    const r = this.rand;
    if (!this.episode && r() < this.opts.alarmRate) {
      const kinds: Episode['kind'][] = ['desat', 'tachy', 'brady', 'hypotension'];
      this.episode = { kind: kinds[Math.floor(r() * kinds.length)]!, remaining: 20 + Math.floor(r() * 40) };
    }
    const target = { ...this.base };
    if (this.episode) {
      if (this.episode.kind === 'desat') target.spo2 = 82;
      if (this.episode.kind === 'tachy') target.hr = 145;
      if (this.episode.kind === 'brady') target.hr = 38;
      if (this.episode.kind === 'hypotension') {
        target.sys = 78;
        target.dia = 42;
      }
      if (--this.episode.remaining <= 0) this.episode = null;
    }
    // Mean-reverting random walk toward the target.
    const walk = (cur: number, tgt: number, pull: number, noise: number): number => cur + (tgt - cur) * pull + (r() - 0.5) * noise;
    const s = this.state;
    s.hr = walk(s.hr, target.hr, 0.15, 3);
    s.spo2 = Math.min(100, walk(s.spo2, target.spo2, 0.2, 0.8));
    s.rr = walk(s.rr, target.rr, 0.1, 1.5);
    s.temp = walk(s.temp, target.temp, 0.02, 0.02);
    s.sys = walk(s.sys, target.sys, 0.1, 3);
    s.dia = walk(s.dia, target.dia, 0.1, 2);
    s.etco2 = walk(s.etco2, target.etco2, 0.1, 1);
    s.batt = Math.max(5, s.batt - 0.001);

    const out: MonitorSample[] = [];
    const add = (label: MonitorSample['label'], value: number, unit: string, alarm?: MonitorSample['alarm']): void => {
      out.push({ label, value, unit, time: now, alarm }); // one shape, alarm or not
    };
    add('HR', Math.round(s.hr), '/min', this.check('HR', s.hr > 130 ? 'HR_HIGH' : s.hr < 45 ? 'HR_LOW' : null));
    add('SpO2', Math.round(s.spo2), '%', this.check('SpO2', s.spo2 < 88 ? 'SPO2_LOW' : null));
    add('PR', Math.round(s.hr + (r() - 0.5) * 2), '/min');
    add('RR', Math.round(s.rr), '/min');
    if (this.opts.icu) {
      const map = (s.sys + 2 * s.dia) / 3;
      add('ABP-S', Math.round(s.sys), 'mmHg', this.check('ABP', s.sys < 85 ? 'ABP_SYS_LOW' : null));
      add('ABP-D', Math.round(s.dia), 'mmHg');
      add('ABP-M', Math.round(map), 'mmHg');
      add('etCO2', Math.round(s.etco2), 'mmHg');
    }
    if (this.tick % 30 === 1) add('TEMP', round(s.temp, 1), 'C');
    if (this.tick % 60 === 1) {
      add('NBP-S', Math.round(s.sys), 'mmHg');
      add('NBP-D', Math.round(s.dia), 'mmHg');
      add('NBP-M', Math.round((s.sys + 2 * s.dia) / 3), 'mmHg');
      add('BATT', Math.round(s.batt), '%');
    }
    return out;
  }

  /** An alarm is reported on the tick it is raised, not on every tick while it lasts. */
  private check(param: string, code: string | null): MonitorSample['alarm'] | undefined {
    if (code === null) {
      for (const c of this.raised) if (c.startsWith(`${param}:`)) this.raised.delete(c);
      return undefined;
    }
    const key = `${param}:${code}`;
    if (this.raised.has(key)) return undefined;
    this.raised.add(key);
    return { code, severity: code.startsWith('SPO2') || code.startsWith('HR_LOW') ? 'high' : 'medium' };
  }
}
