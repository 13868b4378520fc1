/**
 * The embedded broker keeps clients in their lane: logins, ACLs, packet size, rate and
 * connection limits. Misbehaving clients are disconnected and counted; the others go on.
 */

import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { sleep, waitFor } from './helpers/context.js';
import { Cleanup, connectSensor, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FAST = { N: 1024, r: 8, p: 1 };

async function gateway(limits: object = {}) {
  const sink = new RecordingSink();
  const users = [
    { username: 'ox-12', passwordHash: await hashPassword('pw12', FAST), publish: ['ward/12/{clientId}/#'] },
    { username: 'display', passwordHash: await hashPassword('disp', FAST), subscribe: ['wardgate/alarms/+'] },
  ];
  const g = await startAdapter(cleanup, sink, {
    enabled: true,
    embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { users }, limits },
    rules: SENSOR_RULES,
  });
  return { ...g, sink };
}

/** A raw mqtt.js client that does not reconnect, resolving once connected or failed. */
function rawClient(url: string, opts: Record<string, unknown>): Promise<{ client: MqttClient; error?: Error }> {
  const client = connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ...opts });
  cleanup.add(() => client.end(true));
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client }));
    client.once('error', (error) => resolve({ client, error }));
    client.once('close', () => resolve({ client, error: new Error('connection closed') }));
  });
}

describe('embedded broker: authentication and ACLs', () => {
  it('accepts the right password and refuses wrong or missing credentials', async () => {
    const { url, ctx } = await gateway();
    expect((await rawClient(url, { clientId: 'ox1', username: 'ox-12', password: 'pw12' })).error).toBeUndefined();
    expect((await rawClient(url, { clientId: 'ox2', username: 'ox-12', password: 'wrong' })).error?.message).toMatch(/Bad username or password/i);
    expect((await rawClient(url, { clientId: 'ox3' })).error?.message).toMatch(/Not authorized/i);
    expect(await ctx.events.count('client_disconnected', { family: 'mqtt', reason: 'auth_failed' })).toBe(2);
  });

  it('disconnects a client publishing outside its ACL and stores nothing of it; others go on', async () => {
    const { url, ctx, sink } = await gateway();
    const good = await connectSensor(cleanup, { url, clientId: 'ox1', username: 'ox-12', password: 'pw12', bed: '12', device: 'ox1', format: 'text' });
    const bad = await connectSensor(cleanup, {
      url,
      clientId: 'ox2',
      username: 'ox-12',
      password: 'pw12',
      bed: '13',
      device: 'ox2',
      format: 'text',
      reconnectPeriod: 0,
    });
    let closed = false;
    bad.mqtt.on('close', () => (closed = true));
    void bad.publishReading().catch(() => undefined);
    await waitFor(() => closed, 'the out-of-ACL publisher to be disconnected');
    expect(await ctx.events.count('client_disconnected', { reason: 'acl_publish' })).toBe(1);
    await good.publishReading({ spo2: 96, pulse: 60, time: Date.now() });
    expect(sink.committed.map((r) => [r.bed, r.deviceId])).toEqual([['12', 'ox1']]);
  });

  it.each([
    ['wardgate/alarms/{bed}', 'wardgate/alarms/12'],
    ['ward7/display/{bed}/alarm', 'ward7/display/12/alarm'],
    ['ward7/display/{bed}/alarm', 'wardgate/anything'],
  ])('with alarm topic %j, refuses publishing on %j even with a wide ACL', async (alarmTopic, spoof) => {
    const sink = new RecordingSink();
    const { url, ctx } = await startAdapter(cleanup, sink, {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['#'], subscribe: ['#'] } }, alarms: { topic: alarmTopic } },
    });
    const { client } = await rawClient(url, { clientId: 'spoof' });
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    client.publish(spoof, '{"fake":true}', { qos: 1 });
    await closed;
    expect(await ctx.events.count('client_disconnected', { reason: 'acl_publish' })).toBe(1);
  });

  it('grants only the subscriptions the ACL covers', async () => {
    const { url, ctx } = await gateway();
    const { client } = await rawClient(url, { clientId: 'disp1', username: 'display', password: 'disp' });
    const granted = await client.subscribeAsync('wardgate/alarms/12', { qos: 1 });
    expect(granted.map((g) => [g.topic, g.qos])).toEqual([['wardgate/alarms/12', 1]]);
    await expect(client.subscribeAsync('ward/#', { qos: 1 })).rejects.toThrow(/Subscribe error/); // SUBACK 0x80
    expect(client.connected).toBe(true);
    expect(await ctx.events.count('device_error', { family: 'mqtt', reason: 'acl_subscribe' })).toBe(1);
  });
});

describe('embedded broker: limits', () => {
  it('disconnects a client sending a packet over the size limit, before reading it', async () => {
    const { url, ctx, sink } = await gateway({ maxPacketBytes: 1024 });
    const s = await connectSensor(cleanup, {
      url,
      clientId: 'ox1',
      username: 'ox-12',
      password: 'pw12',
      bed: '12',
      device: 'ox1',
      format: 'text',
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((r) => s.mqtt.once('close', () => r()));
    void s.publishRaw(Buffer.alloc(4096, 0x31)).catch(() => undefined);
    await closed;
    expect(await ctx.events.count('client_disconnected', { reason: 'packet_too_large' })).toBe(1);
    expect(sink.committed).toHaveLength(0);
  });

  it('disconnects a client publishing faster than its rate allows', async () => {
    const { url, ctx, sink } = await gateway({ messagesPerSecond: 0.01, burst: 10 });
    const s = await connectSensor(cleanup, {
      url,
      clientId: 'ox1',
      username: 'ox-12',
      password: 'pw12',
      bed: '12',
      device: 'ox1',
      format: 'text',
      reconnectPeriod: 0,
      qos: 0,
    });
    const closed = new Promise<void>((r) => s.mqtt.once('close', () => r()));
    for (let i = 0; i < 50; i++) void s.publishRaw('97').catch(() => undefined);
    await closed;
    expect(await ctx.events.count('client_disconnected', { reason: 'rate_limit' })).toBe(1);
    await waitFor(() => sink.committed.length === 10, 'the burst to be committed');
    await sleep(100);
    expect(sink.committed).toHaveLength(10);
  });

  it('refuses connections over the connection limit', async () => {
    const { url, ctx } = await gateway({ maxConnections: 2 });
    const ok1 = await rawClient(url, { clientId: 'ox1', username: 'ox-12', password: 'pw12' });
    const ok2 = await rawClient(url, { clientId: 'ox2', username: 'ox-12', password: 'pw12' });
    const third = await rawClient(url, { clientId: 'ox3', username: 'ox-12', password: 'pw12' });
    expect(ok1.error ?? ok2.error).toBeUndefined();
    expect(third.error?.message).toBe('connection closed');
    expect(ok1.client.connected && ok2.client.connected).toBe(true);
    await waitFor(async () => (await ctx.events.count('client_disconnected', { reason: 'connection_limit' })) === 1, 'the refusal to be counted');
  });

  it('keeps a client connected when its payload does not decode, and counts it per rule', async () => {
    const { url, ctx, sink } = await gateway();
    const s = await connectSensor(cleanup, { url, clientId: 'ox1', username: 'ox-12', password: 'pw12', bed: '12', device: 'ox1', format: 'json' });
    await s.publishRaw('{"spo2":"high"}'); // acknowledged: resending would not help
    await s.publishRaw('not json at all');
    await s.publishRaw('97', 'ward/12/ox1/unknown-kind');
    await s.publishReading({ spo2: 95, pulse: 66, time: Date.now() });
    expect(s.mqtt.connected).toBe(true);
    expect(sink.committed.map((r) => r.value)).toEqual([95, 66]);
    expect(await ctx.events.count('frame_rejected', { family: 'mqtt' })).toBe(3);
    const per = await ctx.events.registry.getSingleMetricAsString('wardgate_mqtt_payload_rejected_total');
    expect(per).toContain('rule="ox-json",reason="not_a_number"} 1');
    expect(per).toContain('rule="ox-json",reason="bad_json"} 1');
    expect(per).toContain('rule="-",reason="no_rule"} 1');
  });
});
