/**
 * Realistic Kafka messages for client tests and benchmarks: a simulated ward's readings
 * (SimulatedMonitor -> sampleToInput -> normalise, the adapters' path), sequenced as the
 * buffer would, encoded as wardgate JSON v1 with the real headers and device-id keys.
 */
import { SimulatedMonitor } from '../../hardware-mocks/ward-monitor.js';
import { bedName, sampleToInput } from '../../src/devices/simulator/adapter.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { encodeJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import { normalise, type Reading } from '../../src/reading.js';

/** `n` readings from a `beds`-bed ward (a third of the beds ICU), one gateway, seq 1..n. */
export function wardReadings(n: number, opts: { beds?: number; gatewayId?: string; seed?: number } = {}): Reading[] {
  const beds = opts.beds ?? 30;
  const gatewayId = opts.gatewayId ?? 'gw-bench-01';
  const seed = opts.seed ?? 1000;
  const mons = Array.from({ length: beds }, (_, i) => ({
    m: new SimulatedMonitor({ bed: bedName(i), icu: i % 3 === 0, seed: seed + i, alarmRate: 0.002 }),
    bed: bedName(i),
    deviceId: `sim-monitor-${String(i + 1).padStart(2, '0')}`,
    patientId: `SIMPAT-${String(((seed + i) * 7919) % 1_000_000).padStart(6, '0')}`,
  }));
  let t = Date.parse('2026-01-15T08:00:00Z');
  let seq = 0;
  const out: Reading[] = [];
  while (out.length < n) {
    t += 1000;
    for (const b of mons) {
      for (const s of b.m.step(t - 40)) {
        const p = normalise(sampleToInput(s, b.bed, b.deviceId, b.patientId), { now: t + (seq % 20), clockSkewToleranceMs: 120_000 });
        out.push({ ...p, gatewayId, seq: ++seq });
        if (out.length === n) return out;
      }
    }
  }
  return out;
}

/** The JSON v1 Kafka messages of `readings` (key = device id). */
export function toMessages(readings: readonly Reading[]): OutMessage[] {
  return readings.map((r) => {
    const m = encodeJsonV1(r);
    return { key: m.key, value: m.value, headers: m.headers };
  });
}

/**
 * The bytes a Kafka record batch compresses for these messages, close enough for codec
 * measurements: per record its key, value and header names/values (the varint framing
 * Kafka adds is a few bytes per record and is left out).
 */
export function recordBytes(messages: readonly OutMessage[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) {
    if (m.key !== null) parts.push(Buffer.from(m.key));
    parts.push(Buffer.from(m.value));
    for (const [k, v] of Object.entries(m.headers)) parts.push(Buffer.from(k), Buffer.from(v));
  }
  return Buffer.concat(parts);
}
