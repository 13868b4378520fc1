/**
 * Will messages obey the publish ACL: a sensor may leave a will only on a topic it may publish
 * to, never on another bed's topic nor on the gateway's own alarm topics. aedes accepts the
 * login and asks authorizePublish when the sensor drops and the will is due: one outside the
 * ACL is never published (and counted as an ACL refusal); one inside it reaches subscribers.
 */

import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FAST = { N: 1024, r: 8, p: 1 };

/** Connects without reconnecting; resolves with the client and the CONNECT's error, if any. */
function client(url: string, opts: Record<string, unknown>): Promise<{ client: MqttClient; error?: Error }> {
  const c = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, protocolVersion: 4, ...opts });
  cleanup.add(() => c.end(true));
  return new Promise((resolve) => {
    c.once('connect', () => resolve({ client: c }));
    c.once('error', (error) => resolve({ client: c, error }));
    c.once('close', () => resolve({ client: c, error: new Error('connection closed') }));
  });
}

/** Drops the TCP connection without DISCONNECT: the broker publishes the will, if it accepted one. */
function drop(c: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    c.once('close', () => resolve());
    c.stream.destroy();
  });
}

describe('embedded broker: will messages and the ACL', () => {
  it('a will outside the publish ACL (another bed, the alarm topic) is never published when the sensor drops, and counted; one inside it is', async () => {
    const users = [
      { username: 'ox-12', passwordHash: await hashPassword('pw12', FAST), publish: ['ward/12/{clientId}/#'] },
      { username: 'watcher', passwordHash: await hashPassword('pww', FAST), subscribe: ['ward/#', 'wardgate/#'] },
    ];
    const { url, ctx } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      // All logins come from 127.0.0.1: the per-source login limit must not be what refuses them.
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { users }, limits: { logins: { perSource: { concurrent: 4, perSecond: 100, burst: 100 } } } },
      rules: SENSOR_RULES,
    });
    const watcher = (await client(url, { clientId: 'w1', username: 'watcher', password: 'pww' })).client;
    const seen: string[] = [];
    watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await watcher.subscribeAsync(['ward/#', 'wardgate/#'], { qos: 1 });

    const will = (topic: string) => ({ topic, payload: Buffer.from('gone'), qos: 1 as const, retain: false });
    const offered = [
      { clientId: 'ox1', topic: 'ward/13/ox1/status' }, // another bed
      { clientId: 'ox2', topic: 'wardgate/alarms/12' }, // the gateway's alarm echo: a spoofed alarm
      { clientId: 'ox3', topic: 'ward/12/ox9/status' }, // its own bed, another device's topic
    ];
    for (const o of offered) {
      const r = await client(url, { clientId: o.clientId, username: 'ox-12', password: 'pw12', will: will(o.topic) });
      expect(r.error).toBeUndefined(); // the login itself is good; the will is checked when the broker would publish it
      await drop(r.client);
    }
    // The barrier: a will on the sensor's own topic, sent after the refused ones, is published.
    const ok = await client(url, { clientId: 'ox4', username: 'ox-12', password: 'pw12', will: will('ward/12/ox4/status') });
    expect(ok.error).toBeUndefined();
    await drop(ok.client);
    await waitFor(() => seen.length > 0, 'the allowed will');
    expect(seen).toEqual(['ward/12/ox4/status gone']);
    // Each refused will was counted as an ACL refusal.
    expect(await ctx.events.count('client_disconnected', { reason: 'acl_publish' })).toBe(offered.length);
  });
});
