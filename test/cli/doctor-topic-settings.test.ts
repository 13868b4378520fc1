/** What a topic's settings do to the readings Kafka acknowledged (wardgate deletes its copy then): the doctor's verdict per case. */
import { describe, expect, it } from 'vitest';
import { topicSettingProblem } from '../../src/cli/doctor.js';

const plain = { cleanupPolicy: 'delete', minInsyncReplicas: 2, replicationFactor: 3, retentionMs: 604_800_000 };

describe('topic settings against what wardgate deletes', () => {
  it.each([
    ['RF 3, min ISR 2', plain, 3, null],
    ['compacted', { ...plain, cleanupPolicy: 'compact' }, 3, 'fail'],
    ['compacted and deleted', { ...plain, cleanupPolicy: 'compact,delete' }, 3, 'fail'],
    ['RF 3, min ISR 1', { ...plain, minInsyncReplicas: 1 }, 3, 'warn'],
    ['RF 1 on a 3-broker cluster', { ...plain, replicationFactor: 1, minInsyncReplicas: 1 }, 3, 'warn'],
    ['RF 1 on a single broker', { ...plain, replicationFactor: 1, minInsyncReplicas: 1 }, 1, null],
  ] as const)('%s', (_what, settings, brokers, status) => {
    const p = topicSettingProblem('t', settings, brokers);
    expect(p === null ? null : p.status).toBe(status);
  });
});
