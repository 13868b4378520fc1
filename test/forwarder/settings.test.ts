import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { batchBytesBound, forwarderSettings } from '../../src/forwarder/clients.js';

const kafka = (batch: Record<string, unknown>) => validateConfig({ kafka: { brokers: ['127.0.0.1:9092'], batch } }, 'test').kafka;
const MiB = 2 ** 20;

describe('forwarder settings: batch bytes within what the heap can carry', () => {
  it('keeps the configured bound when the heap is large enough', () => {
    const s = forwarderSettings(kafka({ maxBytes: '1MiB' }), 80 * MiB);
    expect(s.batchMaxBytes).toBe(MiB);
    expect(s).not.toHaveProperty('clampedFrom');
  });

  it('lowers a bound the heap cannot carry in flight, and says from what', () => {
    const s = forwarderSettings(kafka({ maxBytes: '64MiB' }), 80 * MiB);
    expect(s.batchMaxBytes).toBe(batchBytesBound(80 * MiB));
    expect(s.batchMaxBytes).toBeLessThan(4 * MiB);
    expect(s.clampedFrom).toBe(64 * MiB);
    // Four batches at three times their bytes stay within half the heap.
    expect(4 * 3 * s.batchMaxBytes).toBeLessThanOrEqual(40 * MiB);
  });

  it('the default config fits the heap bin/wardgate.js gives the gateway', () => {
    const s = forwarderSettings(kafka({}), 80 * MiB);
    expect(s).not.toHaveProperty('clampedFrom');
  });
});
