/**
 * Load and read-back for the cluster tests (kafka-cluster-controller, kafka-cluster-leader): a
 * steady feeder through the gateway's ingest, and the acknowledged readings looked up in Kafka
 * with kcat.
 */
import type { ReadingInput } from '../../src/reading.js';
import { readTopic } from './kafka.js';

/** Submits the feeder keeps open at once (each waits for its durable commit). */
const MAX_OPEN_SUBMITS = 200;

/**
 * Feeds heart-rate readings from `devices` simulators (`tag`-0, `tag`-1, …) at about `perSecond`
 * until stopped; records the device times acknowledged to it (device@time) in `acked` (a new
 * array unless given).
 */
export function feeder(
  submit: (r: ReadingInput[]) => Promise<void>,
  perSecond: number,
  o: { tag: string; devices: number; acked?: string[] },
): { acked: string[]; stop(): Promise<void> } {
  const acked = o.acked ?? [];
  const pending = new Set<Promise<void>>();
  const control = { running: true };
  const t0 = Date.now();
  const perTick = Math.max(1, Math.round(perSecond / 100));
  let n = 0;
  const done = (async () => {
    while (control.running) {
      const batch: ReadingInput[] = [];
      for (let i = 0; i < perTick; i++, n++) {
        batch.push({
          deviceId: `${o.tag}-${n % o.devices}`,
          deviceKind: 'simulator',
          bed: `BED-${n % o.devices}`,
          metric: 'heart_rate',
          value: 60 + (n % 50),
          unit: '/min',
          deviceTime: t0 + n,
        });
      }
      // Resolves after the durable commit. Several submits stay open at once, as a ward's many devices
      // do: with the buffer's commit pacing a feeder awaiting each commit in turn would measure the
      // pacing delay, not the Kafka faults these tests are about.
      const p = submit(batch).then(() => {
        for (const r of batch) acked.push(`${r.deviceId}@${r.deviceTime}`);
      });
      pending.add(p);
      p.then(
        () => pending.delete(p),
        () => pending.delete(p),
      );
      if (pending.size >= MAX_OPEN_SUBMITS) await Promise.race(pending);
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(pending);
  })();
  return {
    acked,
    stop: async () => {
      control.running = false;
      await done;
    },
  };
}

/**
 * The keys (device@time, JSON v1 values) of `want` not found in `topic` (read with kcat, each
 * read given `readTimeoutMs`), after retrying every second until `timeoutMs`.
 */
export async function keysMissing(bootstrap: string, topic: string, want: readonly string[], timeoutMs: number, readTimeoutMs: number): Promise<string[]> {
  const present = new Set<string>();
  let missing = [...want];
  const deadline = Date.now() + timeoutMs;
  while (missing.length > 0 && Date.now() < deadline) {
    let records: Awaited<ReturnType<typeof readTopic>> = [];
    try {
      records = await readTopic(bootstrap, topic, { timeoutMs: readTimeoutMs });
    } catch {
      // a read that timed out (a leader moving): try again until the deadline
    }
    for (const r of records) {
      const b = JSON.parse(r.value) as { deviceId: string; deviceTime?: string };
      present.add(`${b.deviceId}@${b.deviceTime ? Date.parse(b.deviceTime) : ''}`);
    }
    missing = want.filter((k) => !present.has(k));
    if (missing.length > 0) await new Promise((r) => setTimeout(r, 1000));
  }
  return missing;
}
