/**
 * Waveform batches in the reference consumer (examples/consumer/waveform.ts): batches made by
 * the gateway's own encoder (src/forwarder/formats/waveform-batch.ts) expand back into exactly
 * the samples the test made; inconsistent bodies are refused; the consumer dedupes samples one
 * by one, so a resend cut into different batches stores nothing twice.
 */
import { describe, expect, it } from 'vitest';
import { WardConsumer } from '../../examples/consumer/consumer.js';
import { parseMessage } from '../../examples/consumer/message.js';
import type { SampleRow, Sink } from '../../examples/consumer/sinks/sink.js';
import { GapTracker, type GatewayGaps } from '../../examples/consumer/tracker.js';
import { samplesOf } from '../../examples/consumer/waveform.js';
import { toWaveformBatch } from '../../src/forwarder/formats/waveform-batch.js';
import type { QualityFlag, Reading } from '../../src/reading.js';

const T0 = Date.parse('2026-11-25T10:00:00.000Z');

function samples(seqs: number[], opts: { deviceClock: boolean; period?: number; quality?: (i: number) => QualityFlag[] }): Reading[] {
  return seqs.map((seq, i) => {
    const t = T0 + (opts.period !== undefined ? i * opts.period : i * i * 3);
    const r: Reading = {
      gatewayId: 'gw-w',
      seq,
      deviceId: 'mon-1',
      deviceKind: 'serial',
      bed: 'B-1',
      patientId: 'TEST-P',
      metric: 'ecg_lead_ii',
      value: Math.sin(i) / 2,
      unit: 'mV',
      gatewayTime: opts.deviceClock ? T0 + 40 + i : t,
      priorityClass: 'waveform',
      quality: opts.quality?.(i) ?? [],
    };
    if (opts.deviceClock) r.deviceTime = t;
    return r;
  });
}

/** What a consumer should get back of each sample. */
const expected = (rs: Reading[]) =>
  rs.map((r) => ({
    seq: r.seq,
    value: r.value,
    time: new Date(r.deviceTime ?? r.gatewayTime).toISOString(),
    clock: r.deviceTime !== undefined ? 'device' : 'gateway',
    quality: [...r.quality].sort(),
    patientId: r.patientId,
  }));
const got = (b: unknown) =>
  samplesOf(b)!.map((s) => ({ seq: s.seq, value: s.value, time: s.time, clock: s.clock, quality: [...s.quality].sort(), patientId: s.patientId }));

describe('waveform batches', () => {
  it.each([
    { name: 'regular samples on the device clock', rs: samples([5, 6, 7, 8], { deviceClock: true, period: 4 }) },
    { name: 'irregular samples on the gateway clock', rs: samples([10, 11, 12], { deviceClock: false }) },
    { name: 'seqs in runs (other classes between them)', rs: samples([3, 4, 9, 10, 11, 20], { deviceClock: true, period: 2 }) },
    {
      name: 'quality flags common to all and on some samples',
      rs: samples([1, 2, 3, 4], { deviceClock: true, period: 4, quality: (i) => (i % 2 ? ['simulated', 'questionable'] : ['simulated']) }),
    },
  ])('$name: expand to exactly the samples encoded', ({ rs }) => {
    const batch = JSON.parse(JSON.stringify(toWaveformBatch(rs)));
    expect(got(batch)).toEqual(expected(rs));
  });

  it.each([
    { name: 'count differs from values', over: { count: 5 } },
    { name: 'seqRuns cover fewer samples than values', over: { seqRuns: [[5, 3]] } },
    { name: 'offsets of another length', over: { periodMs: undefined, offsetsMs: [0, 1] } },
    { name: 'a sample quality index out of range', over: { sampleQuality: { questionable: [4] } } },
    { name: 'no time base', over: { periodMs: undefined } },
    { name: 'a seq of 0', over: { seqRuns: [[0, 4]] } },
  ])('refuses a batch whose $name', ({ over }) => {
    const batch = { ...JSON.parse(JSON.stringify(toWaveformBatch(samples([5, 6, 7, 8], { deviceClock: true, period: 4 })))), ...over };
    expect(samplesOf(batch)).toBeNull();
    expect(parseMessage({ topic: 'w', partition: 0, offset: '0', value: Buffer.from(JSON.stringify(batch)) })).toEqual({ kind: 'skip', reason: 'malformed' });
  });

  it('the consumer stores each sample once when a resend is cut into different batches, and the batches close the gaps', async () => {
    const stored: SampleRow[] = [];
    let last: GatewayGaps | undefined;
    const sink: Sink = {
      name: 'memory',
      write: async () => {},
      writeSamples: async (rows) => void stored.push(...rows),
      gaps: async (v) => {
        last = v;
      },
      close: async () => {},
    };
    const c = new WardConsumer(new GapTracker({ window: 1000 }), [sink]);
    const all = samples([1, 2, 3, 4, 5, 6, 7, 8], { deviceClock: true, period: 4 });
    const msg = (rs: Reading[], offset: number) => ({
      topic: 'ward.waveforms',
      partition: 0,
      offset: String(offset),
      value: Buffer.from(JSON.stringify(toWaveformBatch(rs))),
      headers: {
        'wardgate-gateway-id': Buffer.from('gw-w'),
        'wardgate-seq': Buffer.from(String(rs[0]!.seq)),
        'wardgate-schema': Buffer.from('wardgate.waveform.v1'),
      },
    });
    await c.handle([msg(all.slice(0, 5), 0)]);
    await c.handle([msg(all.slice(3, 8), 1)]); // seqs 4 and 5 again
    await c.handle([msg(all.slice(0, 2), 2)]); // 1 and 2 again
    expect(stored.map((r) => r.sample.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await c.finish();
    expect(last).toEqual({ gatewayId: 'gw-w', minSeq: 1, maxSeq: 8, gaps: [] });
  });
});
