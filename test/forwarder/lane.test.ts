import { describe, expect, it } from 'vitest';
import type { KafkaClient } from '../../src/forwarder/client.js';
import { type Batch, Lane } from '../../src/forwarder/lane.js';

const batch = (id: number, partial = false): Batch => ({
  lease: { id, priorityClass: 'vital', bytes: 0, readings: [], partial },
  batches: [],
  readings: 1,
  bytes: 0,
});
const client = {} as KafkaClient;

describe('forwarder lane state', () => {
  it('idle -> prepared -> sending -> sending+prepared -> prepared -> idle', () => {
    const l = new Lane('bulk', client);
    expect(l.state.kind).toBe('idle');
    expect(l.mayPrepare).toBe(true);
    l.prepared(batch(1));
    expect(l.state.kind).toBe('prepared');
    expect(l.mayPrepare).toBe(false);
    expect(l.startable?.lease.id).toBe(1);
    expect(l.start().lease.id).toBe(1);
    expect(l.state.kind).toBe('sending');
    expect(l.startable).toBeNull();
    expect(l.mayPrepare).toBe(true);
    l.prepared(batch(2));
    expect(l.state.kind).toBe('sending+prepared');
    expect(l.sending?.lease.id).toBe(1);
    expect(l.next?.lease.id).toBe(2);
    l.sent();
    expect(l.state.kind).toBe('prepared');
    expect(l.takeNext()?.lease.id).toBe(2);
    expect(l.state.kind).toBe('idle');
    expect(l.busy).toBe(false);
    expect(l.takeNext()).toBeNull();
  });

  it('no batch is prepared behind one that stopped inside a unit', () => {
    const l = new Lane('alarm', client);
    l.prepared(batch(1, true));
    l.start();
    expect(l.mayPrepare).toBe(false);
    l.sent();
    expect(l.mayPrepare).toBe(true);
  });

  it('refuses transitions that would break ordering', () => {
    const l = new Lane('bulk', client);
    expect(() => l.start()).toThrow(/cannot start while idle/);
    expect(() => l.sent()).toThrow(/while idle/);
    l.prepared(batch(1));
    expect(() => l.prepared(batch(2))).toThrow(/cannot prepare while prepared/);
    l.start();
    l.prepared(batch(2));
    expect(() => l.prepared(batch(3))).toThrow(/sending\+prepared/);
    expect(() => l.start()).toThrow(/cannot start while sending\+prepared/);
  });
});
