/**
 * BLE wearables end to end: simulated wearables (strap, oximeter, thermometer, BP cuff) ->
 * the simulated controller -> noble's HCI stack -> the BLE adapter -> the buffer -> the real
 * Kafka, read back with kcat: every value the wearables sent is a message with its bed,
 * device, metric, MDC code and UCUM unit, in the wearable's order.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { TruthRecord } from '../../hardware-mocks/ble/controller.js';
import { makeWearables } from '../../hardware-mocks/ble/peripherals.js';
import { BleWorld } from '../../hardware-mocks/ble/world.js';
import { CATALOGUE, type MetricId } from '../../src/catalogue.js';
import { startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');

describe('BLE wearables -> noble -> buffer -> Kafka', () => {
  it('every value the wearables sent arrives with its bed, device, metric code and UCUM unit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wardgate-ble-kafka-'));
    const truthFile = join(dir, 'truth.jsonl');
    const peripherals = makeWearables(4, 3, { intervalMs: 100 });
    const world = new BleWorld({ dir, peripherals, truthFile, recordFile: join(dir, 'hci.jsonl') });
    await world.powerOn();
    const beds = new Map(peripherals.map((p, i) => [p.address, `BED-${(i % 2) + 1}`]));
    const topics = uniqueTopics('ble');
    const gw = await startTestGateway(
      testConfig(brokers, tempDir(), {
        kafka: { topics },
        devices: { ble: { hci: { uart: { port: world.hostPort } }, devices: peripherals.map((p) => ({ address: p.address, bed: beds.get(p.address)! })) } },
      }),
    );
    await waitFor(() => world.controller.connectedAddresses().length === 4, 30_000, 'the four wearables connected');
    await waitFor(() => world.controller.stats.notificationsSent > 100, 30_000, 'values sent');
    // The controller stops once the host has read everything it sent; then the gateway drains.
    await world.powerOff();
    expect(await gw.stop(30_000)).toBe(true);
    await world.close();

    const truth = readFileSync(truthFile, 'utf8')
      .split('\n')
      .slice(0, -1)
      .map((l) => JSON.parse(l) as TruthRecord);
    const expected = new Map<string, string[]>();
    for (const t of truth) {
      for (const v of t.values) {
        const cls = v.metric === 'battery_level' ? 'status' : 'vital';
        const id = `ble-${t.address.replace(/:/g, '')}/${cls}`;
        expected.set(id, [...(expected.get(id) ?? []), `${v.metric}=${v.value}`]);
      }
    }
    const vitalCount = [...expected].filter(([k]) => k.endsWith('/vital')).reduce((a, [, l]) => a + l.length, 0);
    const vitals = await readTopic(brokers, topics.vital, { expected: vitalCount, timeoutMs: 60_000 });
    const status = await readTopic(brokers, topics.status, { timeoutMs: 30_000 });
    const actual = new Map<string, string[]>();
    type Body = { deviceId: string; deviceKind: string; bed: string; metric: MetricId; value: number; unit: string; mdc?: { code: number } };
    // Records sorted by partition then offset: per device (the message key) that is Kafka order.
    for (const m of [...vitals, ...status]) {
      const b = JSON.parse(m.value) as Body;
      expect(b.deviceKind).toBe('ble');
      expect(b.bed).toBe(beds.get(b.deviceId.replace(/^ble-/, '').match(/../g)!.join(':')));
      expect(b.unit).toBe(CATALOGUE[b.metric].unit);
      if (CATALOGUE[b.metric].mdcCode !== undefined) expect(b.mdc?.code).toBe(CATALOGUE[b.metric].mdcCode);
      if (b.metric === 'gateway_event' || b.metric === 'signal_strength') continue;
      const id = `${b.deviceId}/${b.metric === 'battery_level' ? 'status' : 'vital'}`;
      actual.set(id, [...(actual.get(id) ?? []), `${b.metric}=${b.value}`]);
    }
    expect(expected.size).toBe(8);
    for (const [id, list] of expected) expect(actual.get(id), id).toEqual(list);
    // The kinds' metrics all arrived.
    const metrics = new Set(vitals.map((m) => (JSON.parse(m.value) as Body).metric));
    for (const m of ['heart_rate', 'rr_interval', 'spo2', 'pulse_rate_oximeter', 'body_temp', 'nibp_sys', 'nibp_dia', 'nibp_mean', 'pulse_rate_nibp'])
      expect(metrics).toContain(m);
  });
});
