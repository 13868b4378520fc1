/**
 * Serial monitors end to end into Kafka: an IntelliVue, a GE S/5, a Masimo and a Nonin
 * oximeter, a `wg1` line device and a Dräger MEDIBUS device (hardware-mocks, each on its own
 * socat pty pair) -> the real gateway (serial adapter,
 * encrypted buffer, forwarder) -> a real broker. In Kafka, per device key and metric, the
 * values and device times are those each simulator wrote to its ground-truth file, in order.
 */
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { GeS5Simulator } from '../../hardware-mocks/ge-s5.js';
import { IntellivueSimulator } from '../../hardware-mocks/intellivue.js';
import { LineDeviceSimulator } from '../../hardware-mocks/line-device.js';
import { MasimoSimulator } from '../../hardware-mocks/masimo.js';
import { MedibusSimulator } from '../../hardware-mocks/medibus.js';
import { NoninSimulator } from '../../hardware-mocks/nonin.js';
import { readGroundTruth } from '../../hardware-mocks/serial/ground-truth.js';
import { PtyPair } from '../../hardware-mocks/serial/pty.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');

describe('serial monitors -> adapter -> buffer -> Kafka', () => {
  it('every value each simulator sent arrives in Kafka under its device key, in order, with its device time', async () => {
    const dir = tempDir('wg-serial-kafka-');
    const kinds = ['intellivue', 'ge-s5', 'masimo', 'nonin', 'line', 'medibus'] as const;
    const pairs = kinds.map((k) => new PtyPair(dir, k));
    await Promise.all(pairs.map((p) => p.plug()));
    const truth = kinds.map((k) => join(dir, `${k}.truth.jsonl`));
    const topics = uniqueTopics('serial');
    const gw = await startTestGateway(
      testConfig(brokers, join(dir, 'data'), {
        kafka: { topics },
        devices: {
          serial: {
            ports: kinds.map((k, i) => ({
              path: pairs[i]!.host,
              protocol: k,
              bed: `BED-${i + 1}`,
              deviceId: `mon-${k}`,
              ...(k === 'intellivue' || k === 'medibus' ? { pollInterval: 200 } : {}),
            })),
          },
        },
      }),
    );
    const sims = [
      new IntellivueSimulator({ port: pairs[0]!.device, truth: truth[0]!, seed: 1 }),
      new GeS5Simulator({ port: pairs[1]!.device, truth: truth[1]!, intervalMs: 200, seed: 2 }),
      new MasimoSimulator({ port: pairs[2]!.device, truth: truth[2]!, intervalMs: 200, seed: 3 }),
      new NoninSimulator({ port: pairs[3]!.device, truth: truth[3]!, format: 2, intervalMs: 200, seed: 4 }),
      new LineDeviceSimulator({ port: pairs[4]!.device, truth: truth[4]!, intervalMs: 200, seed: 5 }),
      new MedibusSimulator({ port: pairs[5]!.device, truth: truth[5]!, seed: 6 }),
    ];
    for (const s of sims) s.start();
    await waitFor(
      () => truth.every((f) => readGroundTruth(f).filter((r) => Object.keys(r.values).length > 0).length >= 15),
      30_000,
      '15 records from each simulator',
    );
    const sent = truth.map((f) => readGroundTruth(f));
    // A value the monitor sent as a "no value" marker (truth `absent`) arrives as JSON null.
    const perMetric = (k: number): Map<string, [number | null, number | undefined][]> => {
      const m = new Map<string, [number | null, number | undefined][]>();
      for (const r of sent[k]!)
        for (const [metric, v] of [...Object.entries(r.values), ...Object.keys(r.absent ?? {}).map((a) => [a, null] as const)])
          m.set(metric, [...(m.get(metric) ?? []), [v, r.time]]);
      return m;
    };
    const expectedCount = kinds.reduce((n, _k, i) => n + [...perMetric(i).values()].reduce((a, v) => a + v.length, 0), 0);
    await waitFor(() => gw.ingest.committed >= expectedCount, 30_000, 'the gateway to commit what was sent');
    await gw.stop(20_000);
    for (const s of sims) await s.stop();
    await Promise.all(pairs.map((p) => p.unplug()));

    const vitals = await readTopic(brokers, topics.vital, { expected: expectedCount, timeoutMs: 30_000 });
    for (const [i, k] of kinds.entries()) {
      const mine = vitals
        .filter((m) => m.key === `mon-${k}`)
        .map((m) => JSON.parse(m.value) as { metric: string; value: number; deviceTime?: string; deviceKind: string; bed: string });
      expect(mine.every((b) => b.deviceKind === 'serial' && b.bed === `BED-${i + 1}`)).toBe(true);
      for (const [metric, vs] of perMetric(i)) {
        const got = mine.filter((b) => b.metric === metric).map((b) => [b.value, b.deviceTime === undefined ? undefined : Date.parse(b.deviceTime)]);
        expect({ k, metric, values: got.slice(0, vs.length) }).toEqual({ k, metric, values: vs });
      }
    }
  });
});
