/**
 * MEDIBUS realtime end to end over a real pseudo-terminal: the simulated Dräger device
 * (hardware-mocks/medibus.ts, its own framing and realtime encoding) <-> socat pty pair <-> the
 * serial adapter configured for two realtime curves <-> real Ingest and encrypted buffer. The
 * waveform samples in the buffer must be those the simulator wrote to its ground truth, in order
 * per curve (each converted into the catalogue unit), while the slow protocol's values keep
 * arriving exactly too.
 */
import { describe, expect, it } from 'vitest';
import { MedibusSimulator } from '../../hardware-mocks/medibus.js';
import { readGroundTruth } from '../../hardware-mocks/serial/ground-truth.js';
import { CATALOGUE, type MetricId, toCatalogueUnit } from '../../src/catalogue.js';
import { waitFor } from '../devices/pipeline.js';
import { CASES, cleanupAfterEach, settle, setup } from './helpers/e2e.js';

cleanupAfterEach();

/** The device's units of the curves asked for (Dräger tables: airway pressure mbar, CO2 mmHg). */
const DEVICE_UNIT: Record<string, string> = { airway_pressure_wave: 'mbar', co2_wave: 'mm[Hg]' };
const round = (v: number): number => Math.round(v * 1e6) / 1e6;

describe('MEDIBUS realtime curves over socat ptys', () => {
  it('airway pressure every sample and CO2 every 3rd: the waveform readings are the samples the device sent, in order', async () => {
    const c = { ...CASES.find((x) => x.protocol === 'medibus')!, sim: (port: string, truth: string) => new MedibusSimulator({ port, truth, seed: 31 }) };
    const s = await setup(c, {
      medibus: {
        realtime: [
          { code: '00', multiplier: 1 },
          { code: '06', multiplier: 3 },
        ],
      },
    });
    const wavesSent = (): Map<string, number[]> => {
      const m = new Map<string, number[]>();
      for (const r of readGroundTruth(s.truthFile))
        for (const [metric, vs] of Object.entries(r.waves ?? {}))
          m.set(metric, [...(m.get(metric) ?? []), ...vs.map((v) => round(toCatalogueUnit(CATALOGUE[metric as MetricId], v, DEVICE_UNIT[metric])!))]);
      return m;
    };
    await waitFor(() => (wavesSent().get('co2_wave')?.length ?? 0) >= 60, '60 CO2 samples from the simulator', 30_000);
    // The slow protocol goes on beside the realtime bytes.
    const { want, have } = await settle(s, 'medibus-1', 5);
    for (const [metric, vs] of want) expect({ metric, values: have.get(metric)!.slice(0, vs.length) }).toEqual({ metric, values: vs });
    const sent = wavesSent();
    const got = (): Map<string, number[]> => {
      s.got.push(...s.p.drain());
      const m = new Map<string, number[]>();
      for (const r of [...s.got].sort((a, b) => a.seq - b.seq))
        if (r.deviceId === 'medibus-1' && r.priorityClass === 'waveform') m.set(r.metric, [...(m.get(r.metric) ?? []), round(r.value)]);
      return m;
    };
    await waitFor(() => [...sent].every(([metric, vs]) => (got().get(metric)?.length ?? 0) >= vs.length), 'every sample sent to be in the buffer', 30_000);
    const have2 = got();
    expect([...sent.keys()].sort()).toEqual(['airway_pressure_wave', 'co2_wave']);
    for (const [metric, vs] of sent) expect({ metric, values: have2.get(metric)!.slice(0, vs.length) }).toEqual({ metric, values: vs });
    // multiplier 3: about a third as many CO2 samples as airway pressure samples
    const ratio = sent.get('co2_wave')!.length / sent.get('airway_pressure_wave')!.length;
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.37);
    expect(s.got.filter((r) => r.priorityClass === 'waveform').every((r) => r.unit === CATALOGUE[r.metric].unit)).toBe(true);
    expect(await s.p.events.count('frame_rejected', { family: 'serial' })).toBe(0);
  });
});
