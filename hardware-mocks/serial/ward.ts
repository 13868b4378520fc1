/**
 * A simulated ward of serial monitors for `wardgate simulate --monitors intellivue:2,ge-s5:2,masimo:2`:
 * one socat pty pair per monitor (stable paths under a temp folder), the monitor simulator on
 * the device end; the gateway gets the host ends as devices.serial.ports.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeS5Simulator } from '../ge-s5.js';
import { IntellivueSimulator } from '../intellivue.js';
import { LineDeviceSimulator } from '../line-device.js';
import { MasimoSimulator } from '../masimo.js';
import { MedibusSimulator } from '../medibus.js';
import { NoninSimulator } from '../nonin.js';
import { rng } from '../rng.js';
import { PtyPair } from './pty.js';

export const SIMULATED_MONITORS = ['intellivue', 'ge-s5', 'masimo', 'nonin', 'medibus', 'line'] as const;
export type SimulatedMonitorKind = (typeof SIMULATED_MONITORS)[number];

export interface SerialWard {
  ports: { path: string; protocol: SimulatedMonitorKind; bed: string; deviceId: string }[];
  /** Scripted faults on monitor `i`'s cable (simulate --unplug / --garbage): pulled out and plugged back; random bytes on its line. */
  unplug(i: number): Promise<void>;
  replug(i: number): Promise<void>;
  /** Writes random bytes into monitor `i`'s line every 50 ms (interleaved with its frames) until the returned function is called. */
  garbage(i: number): () => void;
  stop(): Promise<void>;
}

/** Parses "intellivue:2,ge-s5:1,masimo" (count 1 when omitted); throws naming the bad item. */
export function parseMonitorSpec(spec: string): [SimulatedMonitorKind, number][] {
  return spec
    .split(',')
    .filter((s) => s.trim() !== '')
    .map((item) => {
      const [kind, n = '1'] = item.trim().split(':');
      if (!(SIMULATED_MONITORS as readonly string[]).includes(kind!))
        throw new Error(`--monitors: unknown monitor ${JSON.stringify(kind)} (use ${SIMULATED_MONITORS.join(', ')})`);
      const count = Number(n);
      if (!Number.isInteger(count) || count < 1 || count > 64) throw new Error(`--monitors: ${item}: the count must be 1-64`);
      return [kind as SimulatedMonitorKind, count];
    });
}

export async function startSerialWard(spec: [SimulatedMonitorKind, number][], seed = 1): Promise<SerialWard> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-serial-ward-'));
  const pairs: PtyPair[] = [];
  const sims: { stop(): Promise<void> }[] = [];
  const ports: SerialWard['ports'] = [];
  let bed = 0;
  for (const [kind, count] of spec) {
    for (let i = 0; i < count; i++) {
      bed++;
      const name = `${kind}-${i + 1}`;
      const pair = new PtyPair(dir, name);
      await pair.plug();
      pairs.push(pair);
      const s = seed + bed;
      const port = pair.device;
      const sim =
        kind === 'intellivue'
          ? new IntellivueSimulator({ port, seed: s })
          : kind === 'ge-s5'
            ? new GeS5Simulator({ port, seed: s })
            : kind === 'masimo'
              ? new MasimoSimulator({ port, seed: s })
              : kind === 'nonin'
                ? new NoninSimulator({ port, seed: s })
                : kind === 'medibus'
                  ? new MedibusSimulator({ port, seed: s })
                  : new LineDeviceSimulator({ port, seed: s, id: name });
      sim.start();
      sims.push(sim);
      ports.push({ path: pair.host, protocol: kind, bed: `SER-${String(bed).padStart(2, '0')}`, deviceId: `sim-${name}` });
    }
  }
  const pair = (i: number): PtyPair => {
    const p = pairs[i];
    if (!p) throw new Error(`no simulated monitor ${i + 1} (there are ${pairs.length})`);
    return p;
  };
  return {
    ports,
    unplug: (i) => pair(i).unplug(),
    replug: (i) => pair(i).replug(),
    garbage(i) {
      const path = pair(i).device;
      const next = rng(seed * 7919 + i);
      const t = setInterval(() => {
        try {
          const b = Buffer.from(Array.from({ length: 16 + Math.floor(next() * 48) }, () => Math.floor(next() * 256)));
          const fd = openSync(path, 'w');
          try {
            writeSync(fd, b);
          } finally {
            closeSync(fd);
          }
        } catch {
          // Unplugged meanwhile: the noise has nowhere to go.
        }
      }, 50);
      return () => clearInterval(t);
    },
    async stop() {
      await Promise.all(sims.map((s) => s.stop()));
      await Promise.all(pairs.map((p) => p.unplug()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
