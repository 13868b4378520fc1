/**
 * Shared by the end-to-end tests. End to end over real pseudo-terminals: each simulated monitor (hardware-mocks, its own
 * framing) <-> socat pty pair <-> the serial adapter <-> real Ingest and encrypted SQLite
 * buffer. The values, device times and per-device order in the buffer must be those the
 * simulator wrote to its ground-truth file.
 */
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { GeS5Simulator } from '../../../hardware-mocks/ge-s5.js';
import { IntellivueSimulator } from '../../../hardware-mocks/intellivue.js';
import { LineDeviceSimulator } from '../../../hardware-mocks/line-device.js';
import { MasimoSimulator } from '../../../hardware-mocks/masimo.js';
import { MedibusSimulator } from '../../../hardware-mocks/medibus.js';
import { NoninSimulator } from '../../../hardware-mocks/nonin.js';
import { readGroundTruth, type TruthRecord } from '../../../hardware-mocks/serial/ground-truth.js';
import type { Clock } from '../../../src/devices/serial/backoff.js';
import { type Reading, valueAbsent } from '../../../src/reading.js';
import { type Pipeline, pipeline, waitFor } from '../../devices/pipeline.js';
import { type PortInput, type Rig, serialRig } from './rig.js';

export interface Sim {
  start(): void;
  stop(): Promise<void>;
}

export interface Case {
  protocol: PortInput['protocol'];
  port: Omit<PortInput, 'path' | 'protocol' | 'bed'>;
  sim(path: string, truth: string): Sim;
  records: number;
}

export const CASES: Case[] = [
  { protocol: 'intellivue', port: { pollInterval: 100 }, sim: (port, truth) => new IntellivueSimulator({ port, truth, seed: 11 }), records: 40 },
  { protocol: 'ge-s5', port: {}, sim: (port, truth) => new GeS5Simulator({ port, truth, intervalMs: 60, seed: 12 }), records: 40 },
  { protocol: 'masimo', port: {}, sim: (port, truth) => new MasimoSimulator({ port, truth, intervalMs: 40, seed: 13 }), records: 40 },
  { protocol: 'nonin', port: {}, sim: (port, truth) => new NoninSimulator({ port, truth, format: 2, intervalMs: 40, seed: 14 }), records: 40 },
  {
    protocol: 'nonin',
    port: { nonin: { format: 8 } },
    sim: (port, truth) => new NoninSimulator({ port, truth, format: 8, intervalMs: 20, seed: 15 }),
    records: 40,
  },
  { protocol: 'line', port: {}, sim: (port, truth) => new LineDeviceSimulator({ port, truth, intervalMs: 40, seed: 16 }), records: 40 },
  { protocol: 'medibus', port: { pollInterval: 50 }, sim: (port, truth) => new MedibusSimulator({ port, truth, seed: 17 }), records: 40 },
];

const round = (v: number): number => Math.round(v * 1e6) / 1e6;

/** A value, or for a reading with no number its value-absent flag; and the device time. */
type Sent = [number | string, number | undefined];

/** Per metric, the values (or value-absent flags) and device times the simulator sent, in order (damaged records excluded). */
export function expected(truth: TruthRecord[]): Map<string, Sent[]> {
  const m = new Map<string, Sent[]>();
  for (const r of truth) {
    if (r.damaged) continue;
    for (const [metric, value] of [...Object.entries(r.values).map(([k, v]) => [k, round(v)] as const), ...Object.entries(r.absent ?? {})]) {
      if (!m.has(metric)) m.set(metric, []);
      m.get(metric)!.push([value, r.time]);
    }
  }
  return m;
}

export function delivered(rs: Reading[], deviceId: string): Map<string, Sent[]> {
  const m = new Map<string, Sent[]>();
  for (const r of [...rs].sort((a, b) => a.seq - b.seq)) {
    if (r.deviceId !== deviceId || r.priorityClass !== 'vital') continue;
    if (!m.has(r.metric)) m.set(r.metric, []);
    m.get(r.metric)!.push([Number.isNaN(r.value) ? (valueAbsent(r.quality) ?? 'NaN') : round(r.value), r.deviceTime]);
  }
  return m;
}

let cleanup: (() => Promise<void>)[] = [];
/** Registers the per-test cleanup (call once per test file). */
export function cleanupAfterEach(): void {
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
    cleanup = [];
  });
}

export async function setup(
  c: Case,
  extra: Partial<PortInput> = {},
  clock?: Clock,
): Promise<{ p: Pipeline; rig: Rig; sim: Sim; truthFile: string; got: Reading[] }> {
  const p = await pipeline();
  cleanup.push(() => p.close());
  const rig = await serialRig([{ protocol: c.protocol, bed: 'BED-03', patient: 'PAT-0003', deviceId: `${c.protocol}-1`, ...c.port, ...extra }], {}, clock);
  cleanup.push(() => rig.close());
  const truthFile = join(rig.dir, 'truth.jsonl');
  const sim = c.sim(rig.pairs[0]!.device, truthFile);
  cleanup.push(() => sim.stop());
  await rig.adapter.start(p.ctx);
  sim.start();
  return { p, rig, sim, truthFile, got: [] };
}

/** Waits until every value of the first `n` truth records is in the buffer; returns what was compared. */
export async function settle(s: { p: Pipeline; truthFile: string; got: Reading[] }, deviceId: string, n: number) {
  await waitFor(() => readGroundTruth(s.truthFile).filter((r) => Object.keys(r.values).length > 0).length >= n, `${n} records from the simulator`, 30_000);
  const truth = readGroundTruth(s.truthFile);
  const want = expected(truth);
  await waitFor(
    () => {
      s.got.push(...s.p.drain());
      const have = delivered(s.got, deviceId);
      return [...want].every(([metric, vs]) => (have.get(metric)?.length ?? 0) >= vs.length);
    },
    'the buffer to hold every value the simulator sent',
    30_000,
  );
  return { truth, want, have: delivered(s.got, deviceId) };
}
