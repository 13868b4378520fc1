import { describe, expect, it } from 'vitest';
import { CommitQueue } from '../../src/devices/mqtt/commit-queue.js';
import type { ReadingInput } from '../../src/reading.js';
import { sleep } from './helpers/context.js';
import { RecordingSink } from './helpers/sink.js';

const input = (value: number): ReadingInput => ({ deviceId: 'd1', deviceKind: 'mqtt', bed: '1', metric: 'spo2', value });

describe('commit queue: QoS 0 drops are reported', () => {
  it('at the door while the sink refuses, and waiting when the queue closes; QoS 1 messages are not drops', async () => {
    const sink = new RecordingSink();
    sink.refuse = true;
    const drops: [string, number][] = [];
    const q = new CommitQueue(sink, {
      maxHoldMs: 10_000,
      retryInitialMs: 1000,
      retryMaxMs: 1000,
      maxBatch: 1,
      onDropped: (reason, n) => drops.push([reason, n]),
    });
    const outcomes: string[] = [];
    q.commit([input(1)], undefined, (err) => outcomes.push(err ? `qos1 ${err.name}` : 'qos1'));
    await sleep(20);
    expect(q.isRefusing()).toBe(true);
    q.offer([input(2), input(3)], (err, ok) => outcomes.push(err ? `waiting ${err.name}` : `waiting ${ok}`));
    q.offer([input(4)], (err, ok) => outcomes.push(err ? `door ${err.name}` : `door ${ok}`));
    expect(drops).toEqual([['refusing', 1]]);
    q.close();
    await sleep(5);
    expect(drops).toEqual([
      ['refusing', 1],
      ['stopping', 2],
    ]);
    expect(outcomes).toContain('door false');
    expect(outcomes).toContain('waiting QueueClosed');
    expect(outcomes).toContain('qos1 QueueClosed');
  });
});
