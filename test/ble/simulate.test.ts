/**
 * `wardgate simulate --wearables 4`: the real CLI, the four kinds of simulated wearables over
 * the simulated controller; after 8 s every kind's readings are in the buffer, with their beds.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getOrCreateGatewayId } from '../../src/buffer/gateway-id.js';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading } from '../../src/reading.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';

describe('wardgate simulate --wearables', () => {
  it('four wearables: a strap, an oximeter, a thermometer and a cuff, all read within the run', async () => {
    const dir = tempDir();
    // Kafka is unreachable on purpose: everything stays in the buffer, where the test reads it.
    const c = spawnCli([
      'simulate',
      '--wearables',
      '4',
      '--beds',
      '1',
      '--duration',
      '8s',
      '--drain-timeout',
      '1s',
      '--data',
      dir,
      '--no-live',
      '--brokers',
      '127.0.0.1:1',
    ]);
    expect(await c.exited, c.stderr()).toBe(0);
    const log = silentLogger();
    const buffer = await openBuffer({ dir, keyFile: join(dir, 'wardgate.key'), gatewayId: getOrCreateGatewayId(dir), events: new Events(log), log });
    const all: Reading[] = [];
    for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
      all.push(...l.readings);
      buffer.ack(l.id);
    }
    await buffer.close();
    const ble = all.filter((r) => r.deviceKind === 'ble');
    expect(new Set(ble.map((r) => r.deviceId)).size).toBe(4);
    for (const m of [
      'heart_rate',
      'rr_interval',
      'spo2',
      'pulse_rate_oximeter',
      'body_temp',
      'nibp_sys',
      'nibp_dia',
      'nibp_mean',
      'battery_level',
      'signal_strength',
      'gateway_event',
    ]) {
      expect(
        ble.some((r) => r.metric === m),
        m,
      ).toBe(true);
    }
    // Two wearables per bed.
    expect(new Set(ble.map((r) => r.bed))).toEqual(new Set(['BED-01', 'BED-02']));
  }, 60_000);
});
