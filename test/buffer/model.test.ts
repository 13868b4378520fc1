/**
 * Random sequences of append / flush / lease / ack / release / reopen against a simple
 * in-memory model of the buffer's contract.
 */
import { describe, expect, it } from 'vitest';
import { PRIORITIES, type PendingReading, type Priority } from '../../src/reading.js';
import type { SqliteBuffer } from '../../src/buffer/index.js';
import { reading, testEnv } from './helpers.js';
import { rng } from '../../hardware-mocks/rng.js';

interface MUnit {
  id: number;
  rank: number;
  items: { seq: number; gatewayTime: number; deviceId: string }[];
}

const U = 6;

class Model {
  units: MUnit[][] = PRIORITIES.map(() => []);
  /** Lease id -> units; `take` is set when only the first readings of the (single) unit were leased. */
  leased = new Map<number, { rank: number; ids: number[]; take?: number }>();
  pending: PendingReading[] = [];
  hwm = 0;

  commit(): void {
    const byRank: PendingReading[][] = PRIORITIES.map(() => []);
    for (const r of this.pending) byRank[PRIORITIES.indexOf(r.priority)]!.push(r);
    this.pending = [];
    byRank.forEach((rs, rank) => {
      for (let i = 0; i < rs.length; i += U) {
        const chunk = rs.slice(i, i + U);
        const id = this.hwm + 1;
        this.units[rank]!.push({ id, rank, items: chunk.map((r, k) => ({ seq: id + k, gatewayTime: r.gatewayTime, deviceId: r.deviceId })) });
        this.hwm += chunk.length;
      }
    });
  }

  isLeased(id: number): boolean {
    for (const l of this.leased.values()) if (l.ids.includes(id)) return true;
    return false;
  }

  expectLease(maxReadings: number): { rank: number; units: MUnit[]; take?: number } | null {
    for (let rank = 0; rank < PRIORITIES.length; rank++) {
      const taken: MUnit[] = [];
      let n = 0;
      for (const u of this.units[rank]!) {
        if (this.isLeased(u.id)) continue;
        if (taken.length === 0 && u.items.length > maxReadings) return { rank, units: [u], take: maxReadings };
        if (taken.length > 0 && n + u.items.length > maxReadings) break;
        taken.push(u);
        n += u.items.length;
        if (n >= maxReadings) break;
      }
      if (taken.length) return { rank, units: taken };
    }
    return null;
  }

  ack(leaseId: number): void {
    const l = this.leased.get(leaseId)!;
    if (l.take !== undefined) {
      const u = this.units[l.rank]!.find((x) => x.id === l.ids[0])!;
      u.items = u.items.slice(l.take);
      u.id = u.items[0]!.seq;
    } else this.units[l.rank] = this.units[l.rank]!.filter((u) => !l.ids.includes(u.id));
    this.leased.delete(leaseId);
  }

  total(rank?: number): number {
    const rs = rank === undefined ? this.units : [this.units[rank]!];
    return rs.flat().reduce((a, u) => a + u.items.length, 0);
  }

  inFlight(): number {
    let n = 0;
    for (const l of this.leased.values()) {
      if (l.take !== undefined) n += l.take;
      else for (const id of l.ids) n += this.units[l.rank]!.find((u) => u.id === id)!.items.length;
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
          reading(counter++, { priority: pick<Priority>(['alarm', 'vital', 'vital', 'vital', 'status', 'waveform']) }),
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
          expect(l!.priority).toBe(PRIORITIES[exp.rank]);
          const want = exp.units.flatMap((u) => u.items).slice(0, exp.take ?? Infinity);
          expect(l!.readings.map((r) => [r.seq, r.gatewayTime, r.deviceId])).toEqual(want.map((x) => [x.seq, x.gatewayTime, x.deviceId]));
          m.leased.set(
            l!.id,
            exp.take !== undefined ? { rank: exp.rank, ids: [exp.units[0]!.id], take: exp.take } : { rank: exp.rank, ids: exp.units.map((u) => u.id) },
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
      PRIORITIES.forEach((p, rank) => expect(s.perClass[p].readings).toBe(m.total(rank)));
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
