/**
 * The kafkajs wrapper's completeness check (issue 19): which messages of a send kafkajs resolved
 * without an acknowledgement for their partition. The integration test
 * test/integration/kafka-cluster-failover.test.ts shows kafkajs doing it on a real cluster.
 */

import type { RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { OutMessage, TopicBatch } from '../../src/forwarder/client.js';
import { unacknowledged } from '../../src/forwarder/kafkajs-client.js';

const msg = (key: string): OutMessage => ({ key, value: key, headers: {} });
const ack = (topicName: string, partition: number, errorCode = 0): RecordMetadata => ({ topicName, partition, errorCode });

describe('unacknowledged', () => {
  const a0 = msg('a0');
  const a1 = msg('a1');
  const b0 = msg('b0');
  const partitions = new Map<object, number>([
    [a0, 0],
    [a1, 1],
    [b0, 0],
  ]);
  const batches: TopicBatch[] = [
    { topic: 'A', messages: [a0, a1] },
    { topic: 'B', messages: [b0] },
  ];
  const cases: { name: string; acked: RecordMetadata[]; expected: TopicBatch[] }[] = [
    { name: 'every partition acknowledged', acked: [ack('A', 0), ack('A', 1), ack('B', 0)], expected: [] },
    { name: 'a partition missing from the answer', acked: [ack('A', 0), ack('B', 0)], expected: [{ topic: 'A', messages: [a1] }] },
    {
      name: 'the same partition number of another topic does not count',
      acked: [ack('A', 0), ack('A', 1), ack('C', 0)],
      expected: [{ topic: 'B', messages: [b0] }],
    },
    { name: 'an entry with an error code does not count', acked: [ack('A', 0), ack('A', 1, 6), ack('B', 0)], expected: [{ topic: 'A', messages: [a1] }] },
    { name: 'an empty answer', acked: [], expected: batches },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(unacknowledged(batches, c.acked, (m) => partitions.get(m))).toEqual(c.expected);
    });
  }
  it('a message whose partition is unknown counts as unacknowledged', () => {
    const stray = msg('stray');
    expect(unacknowledged([{ topic: 'A', messages: [stray] }], [ack('A', 0), ack('A', 1)], (m) => partitions.get(m))).toEqual([
      { topic: 'A', messages: [stray] },
    ]);
  });
});
