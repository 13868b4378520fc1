/**
 * kafka.format avro-v1 with readings the Avro schema does not take as they are:
 *  - a fractional time (an MQTT sensor's epoch seconds with a fraction, times 1000: the buffer
 *    keeps it, Avro's long does not) drains through the real buffer and forwarder as Avro, the
 *    instant JSON v1 names (before: avsc threw while the batch was prepared and the lease, with
 *    every reading in it, stayed leased and unsent until a restart);
 *  - a reading the schema refuses (an enum symbol it lacks: a reading that bypassed validation
 *    or a catalogue newer than the schema) goes out in its place as its JSON v1 message, with the
 *    header wardgate-avro-invalid naming the field, and the routing reports it (field name only);
 *    the other readings of the lease are Avro as before; the forwarder acks the lease, counts the
 *    reading (wardgate_kafka_format_fallback_total{format, field}) and logs it with its seq, never its values.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import avro from 'avsc';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import type { Lease, LeaseLimits, ReadingBuffer } from '../../src/buffer/types.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import type { OutMessage } from '../../src/forwarder/client.js';
import { AVRO_INVALID_HEADER, AVRO_V1_SCHEMA } from '../../src/forwarder/formats/avro-v1.js';
import { JSON_V1_SCHEMA } from '../../src/forwarder/formats/json-v1.js';
import { Forwarder } from '../../src/forwarder/forwarder.js';
import { routeLease } from '../../src/forwarder/routing.js';
import { createLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading } from '../../src/reading.js';
import { FakeClient, type Rig, readings, rig, rigOptions, seqOf, TOPICS, until } from './helpers.js';

const fromFile = avro.Type.forSchema(JSON.parse(readFileSync(new URL('../../docs/schemas/reading-v1.avsc', import.meta.url), 'utf8')) as avro.Schema);

let r: Rig | null = null;
afterEach(async () => {
  await r?.cleanup();
  r = null;
});

describe('avro-v1: readings the schema does not take as they are', () => {
  it('a fractional device time drains through the buffer and forwarder as Avro, the instant JSON v1 names', async () => {
    r = await rig({ routing: { topics: TOPICS, key: 'device', format: 'avro-v1' } });
    const before = readings(3);
    // 1718000000.123456 s from a sensor (microseconds), times 1000: not a whole number of ms.
    const fractional = { ...readings(1, 'vital', 3)[0]!, deviceTime: 1718000000.123456 * 1000 };
    expect(Number.isInteger(fractional.deviceTime)).toBe(false);
    const after = readings(3, 'vital', 4);
    await r.buffer.append([...before, fractional, ...after]);
    const rig_ = r;
    await until(() => rig_.client.messages(TOPICS.vital).length >= 7 && rig_.buffer.stats().totalReadings === 0, 5000, 'all seven readings sent and acked');
    const sent = r.client.messages(TOPICS.vital);
    expect(sent).toHaveLength(7);
    const seqs = sent.map(seqOf);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    for (const m of sent) expect(m.headers['wardgate-schema']).toBe(AVRO_V1_SCHEMA);
    const decoded = sent.map((m) => fromFile.fromBuffer(m.value as Buffer) as { seq: number; deviceTime: number | null });
    expect(decoded.map((d) => d.seq)).toEqual(seqs);
    // JSON v1 of the same value: Date drops the fraction toward zero.
    expect(decoded[3]!.deviceTime).toBe(Date.parse(new Date(fractional.deviceTime).toISOString()));
    expect(decoded[3]!.deviceTime).toBe(1718000000123);
  });

  it('a reading the schema refuses goes out in its place as JSON v1 with wardgate-avro-invalid; the rest stay Avro', () => {
    const t0 = Date.parse('2026-12-06T07:00:00.000Z');
    const ok = (seq: number): Reading => ({
      gatewayId: 'gw-7',
      seq,
      deviceId: `mon-${seq}`,
      deviceKind: 'serial',
      bed: 'BED-01',
      patientId: 'PATIENT-SECRET-9',
      metric: 'heart_rate',
      value: 70 + seq,
      unit: '/min',
      gatewayTime: t0 + seq,
      priorityClass: 'vital',
      quality: [],
    });
    const bad: Record<number, { reading: Reading; field: string }> = {
      2: { reading: { ...ok(2), deviceKind: 'tablet' as Reading['deviceKind'] }, field: 'deviceKind' },
      4: { reading: { ...ok(4), quality: ['simulated', 'battery_low' as Reading['quality'][number]] }, field: 'quality' },
      5: { reading: { ...ok(5), metric: 'cardiac_output_new' as Reading['metric'] }, field: 'metric' },
    };
    const offered = [1, 2, 3, 4, 5, 6].map((s) => bad[s]?.reading ?? ok(s));
    const lease: Lease = { id: 1, priorityClass: 'vital', bytes: 0, partial: false, readings: offered };
    const heard: [number, string][] = [];
    const [batch] = routeLease(lease, { topics: TOPICS, key: 'device', format: 'avro-v1' }, (rd, field) => heard.push([rd.seq, field]));
    const msgs = batch!.messages;
    expect(msgs.map(seqOf)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(msgs.map((m) => m.key)).toEqual(offered.map((o) => o.deviceId));
    for (const [i, m] of msgs.entries()) {
      const seq = i + 1;
      const b = bad[seq];
      if (b) {
        expect(m.headers['wardgate-schema']).toBe(JSON_V1_SCHEMA);
        expect(m.headers[AVRO_INVALID_HEADER]).toBe(b.field);
        const j = JSON.parse(String(m.value)) as Record<string, unknown>;
        expect(j).toMatchObject({ schema: JSON_V1_SCHEMA, seq, deviceKind: b.reading.deviceKind, metric: b.reading.metric, quality: b.reading.quality });
        // No header carries the value the schema refused, nor patient data.
        expect(JSON.stringify(m.headers)).not.toMatch(/tablet|battery_low|cardiac_output_new|PATIENT-SECRET/);
      } else {
        expect(m.headers['wardgate-schema']).toBe(AVRO_V1_SCHEMA);
        expect(m.headers[AVRO_INVALID_HEADER]).toBeUndefined();
        expect(fromFile.fromBuffer(m.value as Buffer)).toMatchObject({ seq, deviceId: `mon-${seq}`, value: 70 + seq });
      }
    }
    expect(heard).toEqual([
      [2, 'deviceKind'],
      [4, 'quality'],
      [5, 'metric'],
    ]);
  });

  it('the forwarder sends such a reading as JSON v1, acks the lease, counts it and logs it without its values', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wg-avro-invalid-'));
    const lines: string[] = [];
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        lines.push(String(c));
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: sink });
    const events = new Events(log);
    const keyFile = join(root, 'wardgate.key');
    generateKeyFile(keyFile);
    const real = await openBuffer({ dir: join(root, 'data'), keyFile, gatewayId: 'gw-unit', events, log, commitIntervalMs: 2, ballastBytes: 0 });
    const client = new FakeClient();
    let forwarder: Forwarder | null = null;
    try {
      await real.append(readings(6).map((p) => ({ ...p, patientId: 'PATIENT-SECRET-77' })));
      const badSeq = real.stats().lastSeq - 2;
      // What the buffer cannot hold (it refuses unknown device kinds): its lease with one reading
      // changed as if it bypassed validation (a device kind newer than the schema).
      const leaseOf = (l: Lease): Lease => ({
        id: l.id,
        priorityClass: l.priorityClass,
        bytes: l.bytes,
        partial: l.partial,
        readings: l.readings.map((rd) => (rd.seq === badSeq ? { ...rd, deviceKind: 'tablet' as Reading['deviceKind'] } : rd)),
      });
      const buffer = new Proxy(real, {
        get: (t, k) => {
          if (k === 'lease')
            return (limits: LeaseLimits) => {
              const l = t.lease(limits);
              return l ? leaseOf(l) : null;
            };
          const v = Reflect.get(t, k, t) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        },
      }) as ReadingBuffer;
      forwarder = new Forwarder(buffer, client, rigOptions({ routing: { topics: TOPICS, key: 'device', format: 'avro-v1' } }), events, log);
      forwarder.start();
      await until(() => client.messages(TOPICS.vital).length >= 6 && real.stats().totalReadings === 0, 5000, 'six readings sent and acked');
      const sent = client.messages(TOPICS.vital);
      expect(sent.map(seqOf)).toEqual([...Array(6).keys()].map((i) => badSeq - 3 + i));
      for (const m of sent) {
        const bad = seqOf(m) === badSeq;
        expect(m.headers['wardgate-schema']).toBe(bad ? JSON_V1_SCHEMA : AVRO_V1_SCHEMA);
        expect(m.headers[AVRO_INVALID_HEADER]).toBe(bad ? 'deviceKind' : undefined);
      }
      const counter = await events.registry.getSingleMetric('wardgate_kafka_format_fallback_total')!.get();
      expect(counter.values.map((v) => [v.labels, v.value])).toEqual([[{ format: 'avro-v1', field: 'deviceKind' }, 1]]);
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'kafka_format_fallback');
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ field: 'deviceKind', seq: badSeq, format: 'avro-v1' });
      expect(lines.join('')).not.toMatch(/PATIENT-SECRET|tablet/);
    } finally {
      await forwarder?.stop();
      await real.close();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('from the decoded units of a lease: the same messages as from its Reading objects', async () => {
    r = await rig({}, { start: false });
    const base = readings(40);
    const offered = base.map((p, i) => {
      const q = { ...p, ...(i % 3 === 0 ? { patientId: `P-${i % 4}` } : {}) };
      if (i % 5 === 1) return { ...q, value: Number.NaN, quality: ['value_nres' as const, 'simulated' as const] };
      if (i % 5 === 2) return { ...q, deviceTime: 1718000000.123456 * 1000 + i };
      if (i % 5 === 3) {
        const { deviceTime: _, ...rest } = q;
        return { ...rest, quality: ['device_clock_unknown' as const] };
      }
      if (i % 5 === 4) return { ...q, priorityClass: 'vital' as const, extra: { alarm: 'HR_HIGH', limit: 120.5, acked: false } };
      return q;
    });
    await r.buffer.append(offered);
    for (const key of ['device', 'patient'] as const) {
      const lease = r.buffer.lease({ maxReadings: 1000, maxBytes: 1 << 30 })!;
      expect(lease.units?.length).toBeGreaterThan(0);
      const asReadings: Lease = { id: lease.id, priorityClass: lease.priorityClass, bytes: lease.bytes, partial: lease.partial, readings: lease.readings };
      const o = { topics: TOPICS, key, format: 'avro-v1' as const };
      const [fromUnits] = routeLease(lease, o);
      const [fromReadings] = routeLease(asReadings, o);
      expect(fromUnits!.messages).toHaveLength(offered.length);
      const plain = (ms: readonly OutMessage[]) => ms.map((m) => ({ key: m.key, value: Buffer.from(m.value as Buffer).toString('hex'), headers: m.headers }));
      expect(plain(fromUnits!.messages)).toEqual(plain(fromReadings!.messages));
      r.buffer.release(lease.id);
    }
  });
});
