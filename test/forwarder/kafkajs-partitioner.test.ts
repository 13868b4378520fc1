import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import { MAX_REMEMBERED_KEYS, rememberingPartitioner } from '../../src/forwarder/kafkajs-partitioner.js';

const meta = (n: number, leaderless: number[] = []): PartitionMetadata[] =>
  Array.from({ length: n }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: leaderless.includes(partitionId) ? -1 : 0,
    replicas: [0],
    isr: [0],
  }));

describe('rememberingPartitioner', () => {
  const rnd = rng(4);
  const keys = [
    '',
    'sim-dev-000',
    'monitor-ICU-07',
    'SIMPAT-100012',
    'gerät-Ü-😀',
    ...Array.from({ length: 300 }, (_, i) => Array.from({ length: 1 + (i % 40) }, () => String.fromCharCode(32 + Math.floor(rnd() * 0x2fff))).join('')),
  ];

  it.each([1, 2, 3, 7, 12, 50])('gives the partition kafkajs DefaultPartitioner gives, %i partitions, first and remembered', (n) => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const partitionMetadata = meta(n, n > 2 ? [1] : []);
    for (let round = 0; round < 2; round++) {
      for (const key of keys) {
        const args = { topic: 't', partitionMetadata, message: { key, value: 'v' } };
        expect(ours(args)).toBe(theirs(args));
      }
    }
  });

  it('follows a change of partition count', () => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const got = (n: number) => keys.map((key) => ours({ topic: 't', partitionMetadata: meta(n), message: { key, value: 'v' } }));
    const want = (n: number) => keys.map((key) => theirs({ topic: 't', partitionMetadata: meta(n), message: { key, value: 'v' } }));
    expect(got(3)).toEqual(want(3));
    expect(got(6)).toEqual(want(6));
    expect(got(6)).not.toEqual(got(3));
    expect(got(3)).toEqual(want(3));
  });

  it('leaves unkeyed messages, bytes keys and explicit partitions to kafkajs', () => {
    const ours = rememberingPartitioner();
    const partitionMetadata = meta(4, [2]);
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) seen.add(ours({ topic: 't', partitionMetadata, message: { value: 'v' } }));
    expect([...seen].sort()).toEqual([0, 1, 3]); // round-robin over partitions with a leader
    expect(ours({ topic: 't', partitionMetadata, message: { key: 'k', value: 'v', partition: 2 } })).toBe(2);
    const theirs = Partitioners.DefaultPartitioner();
    const bytes = { topic: 't', partitionMetadata, message: { key: Buffer.from('sim-dev-000'), value: 'v' } };
    expect(ours(bytes)).toBe(theirs(bytes));
  });

  it('stays right past the number of keys it remembers', () => {
    const ours = rememberingPartitioner();
    const theirs = Partitioners.DefaultPartitioner();
    const partitionMetadata = meta(5);
    // Every key once (the memory starts again at MAX_REMEMBERED_KEYS), then the first ones again.
    for (const i of [...Array.from({ length: MAX_REMEMBERED_KEYS + 50 }, (_, k) => k), 0, 1, 2, MAX_REMEMBERED_KEYS + 1]) {
      const args = { topic: 't', partitionMetadata, message: { key: `dev-${i}`, value: 'v' } };
      expect(ours(args)).toBe(theirs(args));
    }
  });
});
