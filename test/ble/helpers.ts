/** The simulated BLE world under a real BleAdapter (noble over the simulated controller) and the real pipeline. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { TruthRecord } from '../../hardware-mocks/ble/controller.js';
import { makeWearables, type SimPeripheral } from '../../hardware-mocks/ble/peripherals.js';
import { BleWorld } from '../../hardware-mocks/ble/world.js';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import type { Clock } from '../../src/devices/ble/backoff.js';
import { type BleConfigInput, bleConfigSchema } from '../../src/devices/ble/config.js';
import { type Pipeline, pipeline } from '../devices/pipeline.js';

export function bedOf(i: number, beds: number): string {
  return `BED-${String((i % beds) + 1).padStart(2, '0')}`;
}

export interface BleRig {
  world: BleWorld;
  adapter: BleAdapter;
  truthFile: string;
  recordFile: string;
  /** address -> bed, as configured. */
  beds: Map<string, string>;
  truth(): TruthRecord[];
  close(): Promise<void>;
}

export interface RigOptions {
  wearables: number;
  beds: number;
  /** Extra wearables in range that are not on the allow-list. */
  strangers?: number;
  controllerMaxConnections?: number;
  intervalMs?: number;
  malformedEvery?: number;
  config?: Partial<BleConfigInput>;
  clock?: Clock;
  seed?: number;
  /** The registered peripherals, instead of `wearables` made by makeWearables. */
  peripherals?: SimPeripheral[];
}

export async function bleRig(o: RigOptions): Promise<BleRig> {
  const registered =
    o.peripherals ??
    makeWearables(o.wearables, o.seed ?? 1, {
      intervalMs: o.intervalMs ?? 100,
      ...(o.malformedEvery ? { malformedEvery: o.malformedEvery } : {}),
    });
  const strangers: SimPeripheral[] = makeWearables(o.wearables + (o.strangers ?? 0), (o.seed ?? 1) + 7).slice(o.wearables);
  for (const s of strangers) (s as { address: string }).address = s.address.replace(/^c0:ff:ee/, 'de:ad:00');
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-ble-'));
  const truthFile = join(dir, 'truth.jsonl');
  const recordFile = join(dir, 'hci.jsonl');
  const w2 = new BleWorld({
    dir,
    peripherals: [...registered, ...strangers],
    maxConnections: o.controllerMaxConnections ?? 64,
    advIntervalMs: 50,
    truthFile,
    recordFile,
  });
  const beds = new Map<string, string>();
  for (const [i, p] of registered.entries()) beds.set(p.address, bedOf(i, o.beds));
  const cfg = bleConfigSchema.parse({
    hci: { uart: { port: w2.hostPort } },
    devices: registered.map((p, i) => ({ address: p.address, bed: bedOf(i, o.beds), patientId: `PAT-${i}` })),
    backoff: { initial: 50, max: 400 },
    connectTimeout: 2000,
    startTimeout: 5000,
    dwell: 60_000,
    ...o.config,
  });
  await w2.powerOn();
  const adapter = new BleAdapter(cfg, o.clock ? { clock: o.clock } : {});
  return {
    world: w2,
    adapter,
    truthFile,
    recordFile,
    beds,
    // Complete lines only: the controller may be writing the last one.
    truth: () =>
      readFileSync(truthFile, 'utf8')
        .split('\n')
        .slice(0, -1)
        .map((l) => JSON.parse(l) as TruthRecord),
    close: async () => {
      await w2.close();
    },
  };
}

/** Per device and class (battery is a status reading, leased after vitals), the readings' metric=value lists in order. */
/**
 * For a describe block: registers an afterEach that stops the adapter and closes the rig and the
 * pipeline the test opened; returns what opens them (the rig with `o`, then a real pipeline).
 */
export function bleRigEach(): (o: RigOptions) => Promise<{ rig: BleRig; p: Pipeline }> {
  let rig: BleRig | null = null;
  let p: Pipeline | null = null;
  afterEach(async () => {
    p?.gate.release(); // a test that held the buffer's gate: let the adapter's pending submissions end
    await rig?.adapter.stop().catch(() => undefined);
    await rig?.close();
    await p?.close();
    rig = p = null;
  });
  return async (o) => {
    const r = await bleRig(o);
    rig = r;
    const q = await pipeline();
    p = q;
    return { rig: r, p: q };
  };
}

export function valuesByDeviceAndClass(readings: readonly { deviceId: string; metric: string; value: number }[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of readings) {
    if (r.metric === 'gateway_event' || r.metric === 'signal_strength') continue;
    const id = `${r.deviceId}/${r.metric === 'battery_level' ? 'status' : 'vital'}`;
    const list = out.get(id) ?? [];
    list.push(`${r.metric}=${r.value}`);
    out.set(id, list);
  }
  return out;
}

/** The same lists from the simulator's ground truth (what it sent; malformed values have none). */
export function truthByDeviceAndClass(truth: readonly TruthRecord[]): Map<string, string[]> {
  const flat: { deviceId: string; metric: string; value: number }[] = [];
  for (const t of truth) for (const v of t.values) flat.push({ deviceId: `ble-${t.address.replace(/:/g, '')}`, metric: v.metric, value: v.value });
  return valuesByDeviceAndClass(flat);
}
