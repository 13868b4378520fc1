/**
 * The embedded broker keeps no retained message of a client: aedes would hold one per topic in
 * memory for ever, and a client publishing retained messages on topics of its own making grew the
 * gateway without bound (probed: 7,600 messages of 60 KB, RSS 550 MB; 131 MB with this). A retained
 * PUBLISH and a retained will still reach the subscribers there at the time; one that subscribes
 * later gets neither. The barrier: a plain message published after the late subscription, which a
 * retained message would have preceded (they are sent right after the SUBACK). The gateway's own
 * alarm echo may still be retained (alarms.retain): a display that subscribes later gets it.
 */
import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { PendingReading } from '../../src/reading.js';
import { waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function client(url: string, opts: Record<string, unknown> = {}): Promise<{ c: MqttClient; got: string[] }> {
  const c = connect(url, { reconnectPeriod: 0, clientId: `c-${Math.random()}`, ...opts });
  cleanup.add(() => c.end(true));
  await new Promise((r, j) => {
    c.once('connect', r);
    c.once('error', j);
  });
  const got: string[] = [];
  c.on('message', (t, p) => got.push(`${t} ${p.toString()}`));
  return { c, got };
}

describe('embedded broker: retained messages', () => {
  it("a client's retained PUBLISH and retained will reach the subscribers of the moment, and are not kept for later ones", async () => {
    const { url } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } } },
      rules: SENSOR_RULES,
    });
    const early = await client(url);
    await early.c.subscribeAsync('ward/#', { qos: 1 });
    const sensor = await client(url, { will: { topic: 'ward/12/ox1/status', payload: Buffer.from('gone'), qos: 1, retain: true } });
    await sensor.c.publishAsync('ward/12/ox1/note', 'kept?', { qos: 1, retain: true });
    await new Promise<void>((resolve) => {
      sensor.c.once('close', () => resolve());
      sensor.c.stream.destroy(); // no DISCONNECT: the will is published
    });
    await waitFor(() => early.got.length === 2, 'the publish and the will, live');
    expect(early.got).toEqual(['ward/12/ox1/note kept?', 'ward/12/ox1/status gone']);

    const late = await client(url);
    await late.c.subscribeAsync('ward/#', { qos: 1 });
    const marker = await client(url);
    await marker.c.publishAsync('ward/12/ox2/note', 'after', { qos: 1 });
    await waitFor(() => late.got.includes('ward/12/ox2/note after'), 'the barrier');
    expect(late.got).toEqual(['ward/12/ox2/note after']);
  });

  it('the alarm echo, configured retained, is there for a display that subscribes later', async () => {
    const { adapter, url } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { subscribe: ['wardgate/alarms/+'] } }, alarms: { retain: true } },
    });
    const alarm: PendingReading = {
      deviceId: 'ox1',
      deviceKind: 'mqtt',
      bed: '12',
      metric: 'spo2',
      value: 84,
      unit: '%',
      gatewayTime: 1_750_000_000_000,
      priorityClass: 'alarm',
      quality: [],
    };
    adapter.publishAlarm(alarm);
    const display = await client(url);
    await display.c.subscribeAsync('wardgate/alarms/+', { qos: 1 });
    await waitFor(() => display.got.length === 1, 'the retained alarm');
    expect(display.got[0]).toMatch(/^wardgate\/alarms\/12 \{"bed":"12"/);
  });
});
