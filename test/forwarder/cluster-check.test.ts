/**
 * The forwarder's cluster check (issue 17): every clusterCheckMs it asks the client which brokers
 * the cluster lists; fewer than expected is state degraded, reason `brokers: N of M`, while the
 * drain goes on; all of them again is online. Real forwarder and buffer; the Kafka client is the
 * fake of ./helpers.ts with the brokers the test says the cluster lists.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Rig, readings, rig, until } from './helpers.js';

let r: Rig | null = null;
afterEach(async () => {
  await r?.cleanup();
  r = null;
});

describe('cluster check', () => {
  it('fewer brokers listed than the bootstrap list names: degraded with the count, readings still forwarded; all back: online', async () => {
    r = await rig({ clusterCheckMs: 1, expectedBrokers: 3 });
    let listed = [1, 2, 3];
    let checks = 0;
    Object.assign(r.client, {
      clusterBrokers: async () => {
        checks++;
        return listed;
      },
    });
    await r.buffer.append(readings(100));
    await until(() => r!.forwarder.status().state === 'online' && checks > 0, 20_000, 'online, checked');
    listed = [1, 3];
    await until(() => r!.forwarder.status().reason === 'brokers: 2 of 3', 20_000, 'brokers: 2 of 3');
    expect(r.forwarder.status()).toMatchObject({ state: 'degraded', offlineSince: null, cluster: { brokers: 2, expected: 3 } });
    await r.buffer.append(readings(100, 'vital', 100));
    await until(() => r!.client.messages('t.vital').length === 200, 20_000, 'the second 100 forwarded while degraded');
    expect(r.forwarder.status().reason).toBe('brokers: 2 of 3');
    const metrics = await r.events.registry.metrics();
    expect(metrics).toMatch(/^wardgate_kafka_state\{state="degraded"\} 1$/m);
    expect(metrics).toMatch(/^wardgate_kafka_brokers 2$/m);
    listed = [1, 2, 3];
    await until(() => r!.forwarder.status().state === 'online', 20_000, 'online again');
  });

  it('a cluster that once listed more brokers than the bootstrap list names expects that many', async () => {
    r = await rig({ clusterCheckMs: 1, expectedBrokers: 1 });
    let listed = [1, 2, 3, 4];
    Object.assign(r.client, { clusterBrokers: async () => listed });
    await r.buffer.append(readings(10));
    await until(() => r!.forwarder.status().cluster?.brokers === 4, 20_000, 'four brokers seen');
    expect(r.forwarder.status().state).toBe('online');
    listed = [1, 2, 4];
    await until(() => r!.forwarder.status().reason === 'brokers: 3 of 4', 20_000, 'brokers: 3 of 4');
  });
});
