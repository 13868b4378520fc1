/**
 * Random sequences of append / flush / lease / ack / release / reopen against a simple
 * in-memory model of the buffer's contract.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { SqliteBuffer } from '../../src/buffer/index.js';
import { type PendingReading, PRIORITY_CLASSES, type PriorityClass } from '../../src/reading.js';
import { reading, testEnv } from './helpers.js';

interface MUnit {
  id: number;
  classIndex: number;
  items: { seq: number; gatewayTime: number; deviceId: string }[];
}

const U = 6;

class Model {
  units: MUnit[][] = PRIORITY_CLASSES.map(() => []);
  /** Lease id -> units; `take` is set when only the first readings of the (single) unit were leased. */
  leased = new Map<number, { classIndex: number; ids: number[]; take?: number }>();
  pending: PendingReading[] = [];
  hwm = 0;

  commit(): void {
    const byClass: PendingReading[][] = PRIORITY_CLASSES.map(() => []);
    for (const r of this.pending) byClass[PRIORITY_CLASSES.indexOf(r.priorityClass)]!.push(r);
    this.pending = [];
    byClass.forEach((rs, classIndex) => {
      for (let i = 0; i < rs.length; i += U) {
        const chunk = rs.slice(i, i + U);
        const id = this.hwm + 1;
        this.units[classIndex]!.push({ id, classIndex, items: chunk.map((r, k) => ({ seq: id + k, gatewayTime: r.gatewayTime, deviceId: r.deviceId })) });
        this.hwm += chunk.length;
      }
    });
  }

  isLeased(id: number): boolean {
    for (const l of this.leased.values()) if (l.ids.includes(id)) return true;
    return false;
  }

  expectLease(maxReadings: number): { classIndex: number; units: MUnit[]; take?: number } | null {
    for (let classIndex = 0; classIndex < PRIORITY_CLASSES.length; classIndex++) {
      const taken: MUnit[] = [];
      let n = 0;
      for (const u of this.units[classIndex]!) {
        if (this.isLeased(u.id)) continue;
        if (taken.length === 0 && u.items.length > maxReadings) return { classIndex, units: [u], take: maxReadings };
        if (taken.length > 0 && n + u.items.length > maxReadings) break;
        taken.push(u);
        n += u.items.length;
        if (n >= maxReadings) break;
      }
      if (taken.length) return { classIndex, units: taken };
    }
    return null;
  }

  ack(leaseId: number): void {
    const l = this.leased.get(leaseId)!;
    if (l.take !== undefined) {
      const u = this.units[l.classIndex]!.find((x) => x.id === l.ids[0])!;
      u.items = u.items.slice(l.take);
      u.id = u.items[0]!.seq;
    } else this.units[l.classIndex] = this.units[l.classIndex]!.filter((u) => !l.ids.includes(u.id));
    this.leased.delete(leaseId);
  }

  total(classIndex?: number): number {
    const rs = classIndex === undefined ? this.units : [this.units[classIndex]!];
    return rs.flat().reduce((a, u) => a + u.items.length, 0);
  }

  inFlight(): number {
    let n = 0;
    for (const l of this.leased.values()) {
      if (l.take !== undefined) n += l.take;
      else for (const id of l.ids) n += this.units[l.classIndex]!.find((u) => u.id === id)!.items.length;
    }
    return n;
  }
}

async function run(seed: number, steps: number): Promise<void> {
  const env = testEnv('wg-model-');
  const rand = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const opts = { unitMaxReadings: U, commitIntervalMs: 1e9, commitMaxReadings: 1e9 };
  let buf: SqliteBuffer = await env.open(opts);
  const m = new Model();
  let counter = 0;
  let appends: Promise<void>[] = [];
  let partials = 0;
  try {
    for (let step = 0; step < steps; step++) {
      const op = rand();
      if (op < 0.3) {
        const k = 1 + Math.floor(rand() * 12);
        const rs = Array.from({ length: k }, () =>
          reading(counter++, { priorityClass: pick<PriorityClass>(['alarm', 'vital', 'vital', 'vital', 'status', 'waveform']) }),
        );
        m.pending.push(...rs);
        appends.push(buf.append(rs));
      } else if (op < 0.45) {
        await buf.flush();
        await Promise.all(appends);
        appends = [];
        m.commit();
      } else if (op < 0.75) {
        const max = rand() < 0.2 ? 1 + Math.floor(rand() * 5) : 1 + Math.floor(rand() * 25);
        const exp = m.expectLease(max);
        const l = buf.lease({ maxReadings: max, maxBytes: 1 << 30 });
        if (!exp) {
          expect(l, `step ${step}`).toBeNull();
        } else {
          expect(l, `step ${step}`).not.toBeNull();
          expect(l!.priorityClass).toBe(PRIORITY_CLASSES[exp.classIndex]);
          const want = exp.units.flatMap((u) => u.items).slice(0, exp.take ?? Infinity);
          expect(l!.readings.map((r) => [r.seq, r.gatewayTime, r.deviceId])).toEqual(want.map((x) => [x.seq, x.gatewayTime, x.deviceId]));
          m.leased.set(
            l!.id,
            exp.take !== undefined
              ? { classIndex: exp.classIndex, ids: [exp.units[0]!.id], take: exp.take }
              : { classIndex: exp.classIndex, ids: exp.units.map((u) => u.id) },
          );
          if (exp.take !== undefined) partials++;
        }
      } else if (op < 0.87) {
        if (m.leased.size) {
          const id = pick([...m.leased.keys()]);
          buf.ack(id);
          m.ack(id);
        }
      } else if (op < 0.95) {
        if (m.leased.size) {
          const id = pick([...m.leased.keys()]);
          buf.release(id);
          m.leased.delete(id);
        }
      } else {
        await buf.close();
        await Promise.all(appends); // close commits what was pending
        appends = [];
        m.commit();
        m.leased.clear();
        buf = await env.open(opts);
      }
      const s = buf.stats();
      expect(s.totalReadings, `step ${step}`).toBe(m.total());
      for (const [classIndex, priorityClass] of PRIORITY_CLASSES.entries()) expect(s.perClass[priorityClass].readings).toBe(m.total(classIndex));
      expect(s.inFlight).toBe(m.inFlight());
      expect(s.lastSeq).toBe(m.hwm);
    }
    expect(partials).toBeGreaterThan(0); // the partial-unit path was exercised
  } finally {
    await buf.close();
    env.cleanup();
  }
}

describe('buffer against a model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random operations, seed ${seed}`, async () => {
      await run(seed, 400);
    });
  }
});
