import { describe, expect, it } from 'vitest';
import { CommitQueue, HoldExpired, QueueClosed } from '../../src/devices/mqtt/commit-queue.js';
import type { ReadingInput } from '../../src/reading.js';
import { RecordingSink } from './helpers/sink.js';
import { sleep } from './helpers/context.js';

const input = (value: number, deviceId = 'd1'): ReadingInput => ({ deviceId, deviceKind: 'mqtt', bed: '1', metric: 'spo2', value });
const opts = { maxHoldMs: 10_000, retryInitialMs: 10, retryMaxMs: 40, maxBatch: 100 };

describe('commit queue', () => {
  it('groups messages arriving together into one submission, in order', async () => {
    const sink = new RecordingSink();
    const q = new CommitQueue(sink, opts);
    const done = await Promise.all([1, 2, 3, 4].map((v) => q.commit([input(v)])));
    expect(done).toEqual([true, true, true, true]);
    expect(sink.submissions).toBe(1);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it('keeps one submission in flight; later messages form the next batch', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 50;
    const q = new CommitQueue(sink, opts);
    const first = q.commit([input(1)]);
    await sleep(10);
    const later = [2, 3, 4].map((v) => q.commit([input(v)]));
    await Promise.all([first, ...later]);
    expect(sink.submissions).toBe(2);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it('splits at maxBatch readings', async () => {
    const sink = new RecordingSink();
    const q = new CommitQueue(sink, { ...opts, maxBatch: 3 });
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((v) => q.commit([input(v)])));
    expect(sink.submissions).toBe(3);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('holds refused QoS 1 messages and retries until the sink accepts, keeping order', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const states: boolean[] = [];
    const q = new CommitQueue(sink, { ...opts, onRefusing: (r) => states.push(r) });
    let resolved = 0;
    const all = [1, 2].map((v) => q.commit([input(v)]).then(() => resolved++));
    await sleep(100);
    expect(resolved).toBe(0);
    expect(sink.submissions).toBeGreaterThan(2); // retried
    expect(q.isRefusing()).toBe(true);
    const late = q.commit([input(3)]);
    sink.refuse = false;
    await Promise.all([...all, late]);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(states).toEqual([true, false]);
  });

  it('gives up on a message held longer than maxHold', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, { ...opts, maxHoldMs: 60 });
    await expect(q.commit([input(1)])).rejects.toBeInstanceOf(HoldExpired);
    sink.refuse = false;
    await sleep(50);
    expect(sink.committed).toHaveLength(0);
  });

  it('drops QoS 0 messages the sink refused instead of retrying them', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, opts);
    expect(await q.offer([input(1)])).toBe(false);
    sink.refuse = false;
    expect(await q.offer([input(2)])).toBe(true);
    expect(sink.committed.map((r) => r.value)).toEqual([2]);
  });

  it('skips messages whose owner went away before submission', async () => {
    const sink = new RecordingSink();
    const q = new CommitQueue(sink, opts);
    let live = true;
    const p = q.commit([input(1)], () => live);
    live = false;
    expect(await p).toBe(false);
    expect(sink.submissions).toBe(0);
  });

  it('rejects waiting messages when closed', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, opts);
    const p = q.commit([input(1)]);
    await sleep(30);
    q.close();
    await expect(p).rejects.toBeInstanceOf(QueueClosed);
    await expect(q.commit([input(2)])).rejects.toBeInstanceOf(QueueClosed);
  });
});
