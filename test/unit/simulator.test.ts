import { describe, expect, it } from 'vitest';
import { SimulatedMonitor } from '../../hardware-mocks/ward-monitor.js';
import { sampleToInput } from '../../src/devices/simulator/adapter.js';
import { normalise } from '../../src/reading.js';

function run(seed: number, ticks: number, alarmRate: number, icu = true) {
  const m = new SimulatedMonitor({ bed: 'BED-01', icu, seed, alarmRate });
  const t0 = Date.parse('2026-11-25T00:00:00Z');
  return Array.from({ length: ticks }, (_, i) => m.step(t0 + i * 1000)).flat();
}

describe('simulated bedside monitor', () => {
  it('is deterministic for a seed', () => {
    expect(run(42, 100, 0.01)).toEqual(run(42, 100, 0.01));
    expect(run(42, 100, 0.01)).not.toEqual(run(43, 100, 0.01));
  });

  it('reports HR, SpO2, PR and RR every second, ICU beds also ABP and EtCO2, NIBP every minute', () => {
    const s = run(1, 120, 0);
    const count = (label: string) => s.filter((x) => x.label === label).length;
    expect(count('HR')).toBe(120);
    expect(count('SpO2')).toBe(120);
    expect(count('ABP-S')).toBe(120);
    expect(count('etCO2')).toBe(120);
    expect(count('NBP-S')).toBe(2);
    expect(count('TEMP')).toBe(4);
    expect(run(1, 10, 0, false).some((x) => x.label === 'ABP-S')).toBe(false);
  });

  it('vitals drift plausibly without alarms', () => {
    const s = run(9, 600, 0);
    for (const x of s.filter((v) => v.label === 'HR')) {
      expect(x.value).toBeGreaterThan(45);
      expect(x.value).toBeLessThan(130);
    }
    for (const x of s.filter((v) => v.label === 'SpO2')) {
      expect(x.value).toBeGreaterThanOrEqual(88);
      expect(x.value).toBeLessThanOrEqual(100);
    }
    expect(s.some((x) => x.alarm)).toBe(false);
  });

  it('raises alarms during episodes, once per episode and parameter', () => {
    const s = run(5, 600, 0.05);
    const alarms = s.filter((x) => x.alarm);
    expect(alarms.length).toBeGreaterThan(2);
    // An alarm is raised when its condition starts, not repeated on every tick while it lasts.
    const last = new Map<string, number>();
    for (const a of alarms) {
      const prev = last.get(a.alarm!.code);
      if (prev !== undefined) expect(a.time - prev).toBeGreaterThan(1000);
      last.set(a.alarm!.code, a.time);
    }
  });

  it('every sample becomes a valid reading with catalogue units; alarms in the alarm class', () => {
    for (const sample of run(5, 300, 0.05)) {
      const r = normalise(sampleToInput(sample, 'BED-01', 'sim-monitor-01', 'SIMPAT-1'), { now: sample.time, clockSkewToleranceMs: 60_000 });
      expect(r.quality).toContain('simulated');
      expect(r.quality).not.toContain('unit_converted');
      expect(r.priorityClass).toBe(sample.alarm ? 'alarm' : sample.label === 'BATT' ? 'status' : 'vital');
    }
  });
});
