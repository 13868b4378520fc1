/**
 * The commit queue's memory bound, in process (real aedes, real mqtt.js clients, a sink the test
 * holds): at ack.maxPending the embedded broker stops reading, says so in its status, counts the
 * pause, and reads again once the held readings commit; nothing is lost. What it stops reading
 * is PUBLISH packets only: a subscriber (a ward display) keeps its session through the pause
 * (its keepalive is answered) and a new one can connect and subscribe.
 */

import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReadingSink } from '../../src/devices/types.js';
import type { ReadingInput } from '../../src/reading.js';
import { sleep, waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A sink whose submissions wait until the test opens it. */
class GateSink implements ReadingSink {
  readonly committed: ReadingInput[] = [];
  submitted = 0;
  open = false;
  private waiting: (() => void)[] = [];
  async submit(inputs: readonly ReadingInput[]): Promise<void> {
    this.submitted += inputs.length;
    if (!this.open) await new Promise<void>((r) => this.waiting.push(r));
    this.committed.push(...inputs);
  }
  release(): void {
    this.open = true;
    for (const w of this.waiting.splice(0)) w();
  }
}

describe('memory bound of the embedded broker', () => {
  it.each([0, 1] as const)('stops reading at ack.maxPending (QoS %s), reports it, and takes the rest once the buffer commits', async (qos) => {
    const sink = new GateSink();
    const MAX = 64;
    const g = await startAdapter(cleanup, sink, {
      enabled: true,
      embedded: { tcp: { host: '127.0.0.1', port: 0 }, auth: { anonymous: { publish: ['ward/#'] } }, limits: { messagesPerSecond: 1e6, burst: 1e6 } },
      rules: [{ name: 'n', topic: 'ward/{bed}/{device}/n', metric: 'spo2', unit: '%', decoder: { type: 'text' } }],
      ack: { maxPending: MAX },
    });
    const N = 5000;
    const c = await connectAsync(g.url, { clientId: `bp-${qos}`, reconnectPeriod: 0 });
    cleanup.add(() => c.endAsync(true));
    let done = 0;
    for (let i = 0; i < N; i++) c.publish(`ward/1/ox/n`, String(i), { qos }, () => void done++);
    await waitFor(async () => (await g.ctx.events.count('source_paused', { family: 'mqtt' })) === 1, 'the pause');
    await sleep(200);
    // Held: no more than the bound plus what one socket read had already brought.
    const held = sink.submitted;
    expect(held).toBeGreaterThanOrEqual(MAX);
    expect(held).toBeLessThan(N / 2);
    expect(g.adapter.status().detail).toMatch(/not reading: \d+ readings waiting for their commit/);
    await sleep(200);
    expect(sink.submitted).toBe(held); // still not reading
    sink.release();
    await waitFor(() => sink.committed.length === N, 'every message', 20_000);
    expect(sink.committed.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(g.adapter.status().detail).not.toMatch(/not reading/);
    if (qos === 1) await waitFor(() => done === N, 'every PUBACK');
  });

  it('keeps reading subscribers while publishers are paused: a display keeps its session and a new one connects and subscribes', async () => {
    const sink = new GateSink();
    const MAX = 64;
    const g = await startAdapter(cleanup, sink, {
      enabled: true,
      embedded: {
        tcp: { host: '127.0.0.1', port: 0 },
        auth: { anonymous: { publish: ['ward/#'], subscribe: ['wardgate/alarms/#'] } },
        limits: { messagesPerSecond: 1e6, burst: 1e6 },
      },
      rules: [{ name: 'n', topic: 'ward/{bed}/{device}/n', metric: 'spo2', unit: '%', decoder: { type: 'text' } }],
      ack: { maxPending: MAX },
    });
    const connect = async (clientId: string, keepalive: number): Promise<MqttClient> => {
      const c = await connectAsync(g.url, { clientId, keepalive, reconnectPeriod: 0, connectTimeout: 20_000 });
      cleanup.add(() => c.endAsync(true));
      return c;
    };
    // A display with a 1 s keepalive: without a PINGRESP within its keepalive, mqtt.js closes it
    // (and aedes drops it after 1.5 keepalives without a packet).
    const display = await connect('display-1', 1);
    await display.subscribeAsync('wardgate/alarms/#', { qos: 1 });
    let closed = false;
    let pingresps = 0;
    display.on('close', () => {
      closed = true;
    });
    display.on('packetreceive', (p) => {
      if (p.cmd === 'pingresp') pingresps++;
    });
    const N = 5000;
    const sensor = await connect('sensor-1', 60);
    // QoS 0: nothing in aedes waits for these, so only the read gate holds them back.
    for (let i = 0; i < N; i++) sensor.publish('ward/1/ox/n', String(i), { qos: 0 });
    await waitFor(async () => (await g.ctx.events.count('source_paused', { family: 'mqtt' })) === 1, 'the pause');
    const at = pingresps;
    // Three keepalive rounds answered while the queue stays over its bound (or the display gone).
    await waitFor(() => closed || pingresps >= at + 3, 'three PINGRESPs to the display, or its close', 20_000);
    expect(closed).toBe(false);
    expect(g.adapter.status().detail).toMatch(/not reading/);
    // What the sensor got in before the pause (a message already inside the broker when the pause
    // came is still submitted, so this is read after the keepalive rounds, not at the pause): far
    // from all it sent, and no more while the pause lasts.
    const held = sink.submitted;
    expect(held).toBeLessThan(N);
    // A display that connects during the pause is answered, and its subscription granted.
    const late = await connect('display-2', 60);
    expect((await late.subscribeAsync('wardgate/alarms/#', { qos: 1 }))[0]!.qos).toBe(1);
    expect(sink.submitted).toBe(held); // the sensor is still not read
    sink.release();
    await waitFor(() => sink.committed.length === N, 'every message', 20_000);
    expect(sink.committed.map((r) => r.value)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(closed).toBe(false);
  });
});
