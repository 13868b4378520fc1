import { describe, expect, it } from 'vitest';
import { CommitQueue, HoldExpired, type Owner, QueueClosed } from '../../src/devices/mqtt/commit-queue.js';
import type { ReadingInput } from '../../src/reading.js';
import { sleep } from './helpers/context.js';
import { RecordingSink } from './helpers/sink.js';

const input = (value: number, deviceId = 'd1'): ReadingInput => ({ deviceId, deviceKind: 'mqtt', bed: '1', metric: 'spo2', value });
const opts = { maxHoldMs: 10_000, retryInitialMs: 10, retryMaxMs: 40, maxBatch: 100 };

/** The queue's callbacks as promises, for readable tests. */
const commitP = (q: CommitQueue, inputs: ReadingInput[], owner?: Owner): Promise<boolean> =>
  new Promise((resolve, reject) => q.commit(inputs, owner, (err, ok) => (err ? reject(err) : resolve(ok))));
const offerP = (q: CommitQueue, inputs: ReadingInput[]): Promise<boolean> =>
  new Promise((resolve, reject) => q.offer(inputs, (err, ok) => (err ? reject(err) : resolve(ok))));

describe('commit queue', () => {
  it('groups messages arriving together into one submission, in order', async () => {
    const sink = new RecordingSink();
    const q = new CommitQueue(sink, opts);
    const done = await Promise.all([1, 2, 3, 4].map((v) => commitP(q, [input(v)])));
    expect(done).toEqual([true, true, true, true]);
    expect(sink.submissions).toBe(1);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it('submits messages arriving while a submission is pending at once (they join the same group commit)', async () => {
    const sink = new RecordingSink();
    sink.delayMs = 50;
    const q = new CommitQueue(sink, opts);
    const first = commitP(q, [input(1)]);
    await sleep(10);
    const later = [2, 3, 4].map((v) => commitP(q, [input(v)]));
    await sleep(10);
    expect(sink.submissions).toBe(2); // the second went before the first completed
    await Promise.all([first, ...later]);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4]);
  });

  it('resolves in queue order even when a later submission commits before a refused earlier one', async () => {
    // The first submission is refused; the second, already pending, commits first. The test holds
    // each submission open and settles it itself, so no timing decides the order.
    const held: Array<{ values: number[]; commit: () => void; refuse: () => void }> = [];
    const committed: number[] = [];
    const sink = {
      submit: (rs: readonly ReadingInput[]): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          const values = rs.map((r) => r.value as number);
          const commit = (): void => {
            committed.push(...values);
            resolve();
          };
          held.push({ values, commit, refuse: () => reject(new Error('refused')) });
        }),
    };
    const until = async (cond: () => boolean): Promise<void> => {
      while (!cond()) await sleep(1);
    };
    const q = new CommitQueue(sink, opts);
    const order: number[] = [];
    const a = commitP(q, [input(1)]).then(() => order.push(1));
    await until(() => held.length === 1);
    const b = commitP(q, [input(2)]).then(() => order.push(2));
    await until(() => held.length === 2);
    expect(held.map((h) => h.values)).toEqual([[1], [2]]);
    held[1]!.commit();
    await sleep(5);
    expect(committed).toEqual([2]); // 2 is on disk already...
    expect(order).toEqual([]); // ...but not released before 1
    held[0]!.refuse();
    await until(() => held.length === 3); // 1 is submitted again after the retry delay
    expect(held[2]!.values).toEqual([1]);
    expect(order).toEqual([]);
    held[2]!.commit();
    await Promise.all([a, b]);
    expect(order).toEqual([1, 2]);
    expect(committed).toEqual([2, 1]);
  });

  it('splits at maxBatch readings', async () => {
    const sink = new RecordingSink();
    const q = new CommitQueue(sink, { ...opts, maxBatch: 3 });
    await Promise.all([1, 2, 3, 4, 5, 6, 7].map((v) => commitP(q, [input(v)])));
    expect(sink.submissions).toBe(3);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('holds refused QoS 1 messages and retries until the sink accepts, keeping order', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const states: boolean[] = [];
    const q = new CommitQueue(sink, { ...opts, onRefusing: (r) => states.push(r) });
    let resolved = 0;
    const all = [1, 2].map((v) => commitP(q, [input(v)]).then(() => resolved++));
    await sleep(100);
    expect(resolved).toBe(0);
    expect(sink.submissions).toBeGreaterThan(2); // retried
    expect(q.isRefusing()).toBe(true);
    const late = commitP(q, [input(3)]);
    sink.refuse = false;
    await Promise.all([...all, late]);
    expect(sink.committed.map((r) => r.value)).toEqual([1, 2, 3]);
    expect(states).toEqual([true, false]);
  });

  it('gives up on a message held longer than maxHold', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, { ...opts, maxHoldMs: 60 });
    await expect(commitP(q, [input(1)])).rejects.toBeInstanceOf(HoldExpired);
    sink.refuse = false;
    await sleep(50);
    expect(sink.committed).toHaveLength(0);
  });

  it('drops QoS 0 messages the sink refused instead of retrying them', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, opts);
    expect(await offerP(q, [input(1)])).toBe(false);
    sink.refuse = false;
    expect(await offerP(q, [input(2)])).toBe(true);
    expect(sink.committed.map((r) => r.value)).toEqual([2]);
  });

  it('does not retry a held message whose owner went away (its client resends it)', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, opts);
    const owner = { closed: false };
    const p = commitP(q, [input(1)], owner);
    await sleep(30);
    const tries = sink.submissions;
    expect(tries).toBeGreaterThan(0);
    owner.closed = true;
    sink.refuse = false;
    expect(await p).toBe(false);
    expect(sink.committed).toHaveLength(0);
  });

  it('rejects waiting messages when closed', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const q = new CommitQueue(sink, opts);
    const p = commitP(q, [input(1)]);
    await sleep(30);
    q.close();
    await expect(p).rejects.toBeInstanceOf(QueueClosed);
    await expect(commitP(q, [input(2)])).rejects.toBeInstanceOf(QueueClosed);
  });

  it('is over its bound at maxPendingReadings and calls whenBelow only once half of them have settled', async () => {
    // A sink that holds every submission until the test releases it.
    const held: (() => void)[] = [];
    const sink = { submit: (): Promise<void> => new Promise<void>((r) => held.push(r)) };
    const pressure: boolean[] = [];
    const q = new CommitQueue(sink, { ...opts, maxBatch: 2, maxPendingReadings: 8, onPressure: (over) => pressure.push(over) });
    const settled: number[] = [];
    for (let v = 0; v < 7; v++) q.commit([input(v)], undefined, () => settled.push(v));
    expect(q.overBound()).toBe(false);
    q.commit([input(7)], undefined, () => settled.push(7));
    expect(q.overBound()).toBe(true);
    let below = 0;
    q.whenBelow(() => below++);
    await sleep(5);
    expect(held.length).toBeGreaterThan(0);
    held.shift()!(); // 2 of 8 settle: 6 held, still over
    await sleep(5);
    expect(settled).toEqual([0, 1]);
    expect(q.overBound()).toBe(true);
    expect(below).toBe(0);
    held.shift()!(); // 4 of 8 settle: 4 held = half
    await sleep(5);
    expect(settled).toEqual([0, 1, 2, 3]);
    expect(q.overBound()).toBe(false);
    expect(below).toBe(1);
    expect(pressure).toEqual([true, false]);
    // Not over: whenBelow calls back at once.
    q.whenBelow(() => below++);
    await sleep(1);
    expect(below).toBe(2);
    while (held.length) held.shift()!();
    await sleep(5);
    expect(q.pendingReadings()).toBe(0);
  });

  it('counts payload bytes against maxPendingBytes too', async () => {
    const held: (() => void)[] = [];
    const sink = { submit: (): Promise<void> => new Promise<void>((r) => held.push(r)) };
    const q = new CommitQueue(sink, { ...opts, maxPendingReadings: 1000, maxPendingBytes: 1000 });
    q.commit([input(1)], undefined, () => undefined, 600);
    expect(q.overBound()).toBe(false);
    q.offer([input(2)], () => undefined, 400);
    expect(q.overBound()).toBe(true);
    expect(q.pendingBytes()).toBe(1000);
    await sleep(5);
    while (held.length) held.shift()!();
    await sleep(5);
    expect(q.overBound()).toBe(false);
    expect(q.pendingBytes()).toBe(0);
  });

  it('calls whenBelow waiters when it closes (a stalled source is not left waiting)', async () => {
    const sink = { submit: (): Promise<void> => new Promise<void>(() => undefined) };
    const q = new CommitQueue(sink, { ...opts, maxPendingReadings: 2 });
    q.commit([input(1), input(2)], undefined, () => undefined);
    expect(q.overBound()).toBe(true);
    let called = false;
    q.whenBelow(() => (called = true));
    await sleep(5);
    expect(called).toBe(false);
    q.close();
    await sleep(1);
    expect(called).toBe(true);
  });
});
