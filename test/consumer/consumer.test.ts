/**
 * The reference consumer's core (examples/consumer/consumer.ts) with in-memory sinks: what
 * reaches a sink, and that a failed sink stops the consumer instead of losing the batch.
 */
import { describe, expect, it } from 'vitest';
import { SinkError, WardConsumer } from '../../examples/consumer/consumer.js';
import type { RawMessage } from '../../examples/consumer/message.js';
import type { SampleRow, Sink, SinkRow } from '../../examples/consumer/sinks/sink.js';
import { GapTracker, type GatewayGaps } from '../../examples/consumer/tracker.js';

const msg = (gatewayId: string, seq: number, extra?: Record<string, unknown>): RawMessage => ({
  topic: 'ward.vitals',
  partition: 0,
  offset: String(seq),
  value: Buffer.from(
    JSON.stringify({
      schema: 'wardgate.reading.v1',
      gatewayId,
      seq,
      deviceId: 'd',
      deviceKind: 'simulator',
      bed: 'B',
      metric: extra ? 'gateway_event' : 'heart_rate',
      value: 60,
      unit: '/min',
      gatewayTime: '2026-01-01T00:00:00.000Z',
      priority: 'vital',
      quality: [],
      ...(extra ? { extra } : {}),
    }),
  ),
});

class MemorySink implements Sink {
  readonly name = 'memory';
  rows: SinkRow[] = [];
  samples: SampleRow[] = [];
  views: { view: GatewayGaps; final: boolean }[] = [];
  failNext: Error | undefined;
  async write(rows: readonly SinkRow[]): Promise<void> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = undefined;
      throw e;
    }
    this.rows.push(...rows);
  }
  async writeSamples(rows: readonly SampleRow[]): Promise<void> {
    this.samples.push(...rows);
  }
  async gaps(view: GatewayGaps, final: boolean): Promise<void> {
    this.views.push({ view, final });
  }
  async close(): Promise<void> {}
}

const keys = (s: MemorySink) => s.rows.map((r) => `${r.reading.gatewayId}/${r.reading.seq}`);

describe('WardConsumer', () => {
  it('writes each (gateway, seq) once, skips what is not a reading, and reports gaps when they change and at the end', async () => {
    const sink = new MemorySink();
    const c = new WardConsumer(new GapTracker({ window: 0 }), [sink]);
    await c.handle([msg('a', 1), msg('a', 2), msg('a', 2), { topic: 't', partition: 0, offset: '9', value: Buffer.from('x') }]);
    await c.handle([msg('a', 1), msg('a', 6), msg('b', 1)]);
    expect(keys(sink)).toEqual(['a/1', 'a/2', 'a/6', 'b/1']);
    expect(sink.views).toEqual([
      { final: false, view: { gatewayId: 'a', minSeq: 1, maxSeq: 6, gaps: [{ gatewayId: 'a', firstSeq: 3, lastSeq: 5, missing: 3, status: 'unannounced' }] } },
    ]);
    await c.handle([msg('a', 7, { event: 'gap', firstSeq: 3, lastSeq: 5, class: 'vital', reason: 'max_age' })]);
    expect(sink.views[1]!.view.gaps).toMatchObject([{ firstSeq: 3, lastSeq: 5, status: 'announced', reason: 'max_age', class: 'vital' }]);
    await c.finish();
    expect(sink.views.slice(2).map((v) => [v.view.gatewayId, v.final, v.view.gaps.length])).toEqual([
      ['a', true, 1],
      ['b', true, 0],
    ]);
  });

  it('a sink that fails stops the consumer: the batch and every later one are refused, never dropped as duplicates', async () => {
    const sink = new MemorySink();
    const c = new WardConsumer(new GapTracker({ window: 10 }), [sink]);
    // The database's own message may quote a row's values; the error names the sink and code only.
    sink.failNext = Object.assign(new Error('invalid input: "TEST-PATIENT"'), { code: '22P02' });
    const failed = c.handle([msg('a', 1)]);
    await expect(failed).rejects.toThrow(SinkError);
    await expect(failed).rejects.toThrow('sink memory failed (22P02)');
    await expect(c.handle([msg('a', 1)])).rejects.toThrow(SinkError);
    expect(sink.rows).toEqual([]);
  });
});
