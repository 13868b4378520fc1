/**
 * Memory property of the shipped command (issue 10, defect 1): the real `bin/wardgate.js`,
 * executed as `wardgate` is (its first line gives node the shipped 64 MiB old space), takes
 * whatever an MQTT source sends without running out of heap, and commits all of it:
 *  - an external Mosquitto holding a large QoS 1 backlog for the gateway's persistent session;
 *  - the embedded broker with 200 publishers each writing all their QoS 1 messages at once.
 * Peak resident memory is sampled by the test from /proc/PID/status and must stay under the
 * systemd unit's MemoryHigh. What must be in the buffer is what the test published; the
 * buffer is read back with the key after the gateway stopped. Kafka is down here (the buffer
 * holds everything, the worst case for the buffer); test/integration/mqtt-memory-kafka.test.ts
 * checks the same loads drain completely into a real Kafka.
 */

import { connect as netConnect } from 'node:net';
import { connectAsync, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { waitFor } from './helpers/context.js';
import { Cleanup } from './helpers/gateway.js';
import { freePort, startMosquitto } from './helpers/mosquitto.js';
import {
  assertBuilt,
  expected,
  GATEWAY_ID,
  gatewayFiles,
  listening,
  memoryHigh,
  mosquittoBacklog,
  nodeFlags,
  publisherFlood,
  RULES,
  type Run,
  runShipped,
  type Setup,
  startEmbedded,
  statusReaches,
  statusReadings,
  stopUnderMemoryHigh,
} from './helpers/shipped.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Every reading's value in the buffer (read with the key after the gateway stopped). */
async function bufferedValues(s: Setup): Promise<number[]> {
  const log = silentLogger();
  const buffer = await openBuffer({ dir: s.dataDir, keyFile: s.keyFile, gatewayId: GATEWAY_ID, events: new Events(log), log });
  try {
    const values: number[] = [];
    for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
      for (const r of l.readings) values.push(r.value as number);
      buffer.ack(l.id);
    }
    return values;
  } finally {
    await buffer.close();
  }
}

/** A sensor publishing 100 readings (values 0..99) at `qos` once the load is over, if the gateway is alive; returns 100. */
async function readingsAfter(run: Run, url: string, qos: 1 | 2): Promise<number> {
  const N = 100;
  if (!run.alive()) return N;
  const sensor = await connectAsync(url, { clientId: 'sensor-after', reconnectPeriod: 0 });
  cleanup.add(() => sensor.endAsync(true));
  for (let i = 0; i < N; i++) await sensor.publishAsync('ward/3/ox3/n', String(i), { qos });
  return N;
}

/** The shipped command with an embedded broker where anyone may publish and subscribe under ward/ (a ward's displays). */
async function withSubscribers(): Promise<{ s: Setup; run: ReturnType<typeof runShipped>; url: string }> {
  const port = await freePort();
  const s = await gatewayFiles(cleanup, {
    enabled: true,
    embedded: {
      tcp: { host: '127.0.0.1', port },
      auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } },
      limits: { messagesPerSecond: 1_000_000, burst: 1_000_000 },
    },
    rules: RULES,
  });
  const run = runShipped(cleanup, s.configFile);
  expect(await Promise.race([listening(port), run.exited.then(() => false)]), run.output().slice(-3000)).toBe(true);
  return { s, run, url: `mqtt://127.0.0.1:${port}` };
}

/** Four clients publishing `each` messages of 30 KB that no rule decodes (acknowledged at once), each one after the other. */
async function cameras(url: string, each: number): Promise<void> {
  const blob = Buffer.alloc(30_000, 0x41);
  await Promise.all(
    Array.from({ length: 4 }, async (_, c) => {
      const pub = await connectAsync(url, { reconnectPeriod: 0, clientId: `camera-${c}` });
      cleanup.add(() => pub.endAsync(true));
      for (let i = 0; i < each; i++) await pub.publishAsync(`ward/${c}/cam${c}/blob`, blob, { qos: 1 });
    }),
  );
}

describe('memory is bounded whatever an MQTT source sends (shipped heap, real processes)', () => {
  beforeAll(assertBuilt);

  it('takes a 100,000-message QoS 1 backlog of an external Mosquitto completely into the buffer, under MemoryHigh', async () => {
    const N = 100_000;
    const broker = await startMosquitto({ maxInflight: 1000, maxQueued: 1_000_000 });
    cleanup.add(() => broker.stop());
    // The gateway's persistent session exists (it subscribed once), then the backlog builds up.
    expect(await mosquittoBacklog(broker.url, 'wg-backlog', N)).toBe(N);

    const s = await gatewayFiles(cleanup, {
      enabled: true,
      external: [{ name: 'hospital', url: broker.url, clientId: 'wg-backlog', protocolVersion: 5, subscriptions: ['ward/#'] }],
      rules: RULES,
    });
    const run = runShipped(cleanup, s.configFile);
    await new Promise((r) => setTimeout(r, 300));
    expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
    const n = await statusReaches(s, run, N, 60_000, (st) => st.ingestedTotal);
    const alive = run.alive();
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    const peak = run.peakRss();
    process.stdout.write(
      `external backlog: ${N} published, ${n} committed while running, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ` +
        `${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(code).toBe(0);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(memoryHigh());
    expect(statusReadings(s)).toBe(N);
    expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
  }, 90_000);

  it.each([4, 5] as const)(
    'takes a 200 MB message among small ones from an external Mosquitto (MQTT %s) without holding it, under MemoryHigh',
    async (version) => {
      const broker = await startMosquitto({ maxInflight: 20 });
      cleanup.add(() => broker.stop());
      // The gateway's persistent session holds: 0, a 200 MB payload, 1..9 (QoS 1).
      const clientId = `wg-big-v${version}`;
      const session = await connectAsync(broker.url, {
        clientId,
        clean: false,
        protocolVersion: version,
        ...(version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
      });
      await session.subscribeAsync('ward/#', { qos: 1 });
      await session.endAsync();
      const pub = await connectAsync(broker.url, { clientId: `pub-big-v${version}`, reconnectPeriod: 0 });
      await pub.publishAsync('ward/1/ox1/n', '0', { qos: 1 });
      await pub.publishAsync('ward/1/ox1/n', Buffer.alloc(200 * 1024 * 1024, 0x31), { qos: 1 });
      for (let i = 1; i < 10; i++) await pub.publishAsync('ward/1/ox1/n', String(i), { qos: 1 });
      await pub.endAsync();

      const s = await gatewayFiles(cleanup, {
        enabled: true,
        external: [{ name: 'hospital', url: broker.url, clientId, protocolVersion: version, subscriptions: ['ward/#'] }],
        rules: RULES,
      });
      const run = runShipped(cleanup, s.configFile);
      const n = await statusReaches(s, run, 10, 60_000, (st) => st.ingestedTotal);
      const alive = run.alive();
      run.proc.kill('SIGTERM');
      const code = await run.exited;
      const peak = run.peakRss();
      process.stdout.write(`external 200 MB message, MQTT ${version}: ${n} of 10 small ones committed, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB\n`);
      expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
      expect(code).toBe(0);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(memoryHigh());
      expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(10));
    },
    90_000,
  );

  it.each([1, 0] as const)(
    'takes 200 publishers writing all their QoS %s messages at once into the embedded broker, under MemoryHigh',
    async (qos) => {
      const PUBLISHERS = 200;
      const EACH = 500;
      const N = PUBLISHERS * EACH;
      const { s, run, url } = await startEmbedded(cleanup);
      expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
      // Each publisher writes all its messages without waiting for a PUBACK: as fast as it can.
      const flood = await publisherFlood(cleanup, run, url, PUBLISHERS, EACH, qos, 60_000);
      let settled = flood.settled;
      // QoS 0 is best effort, but nothing here makes the buffer refuse: all of it must be committed.
      if (settled && qos === 0) settled = (await statusReaches(s, run, N, 60_000, (st) => st.ingestedTotal)) >= N;
      const alive = run.alive();
      await flood.end();
      run.proc.kill('SIGTERM');
      const code = await run.exited;
      const peak = run.peakRss();
      process.stdout.write(
        `embedded flood, QoS ${qos}: ${N} published by ${PUBLISHERS}, ${flood.acked} ${qos ? 'acknowledged' : 'written'}, peak RSS ` +
          `${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
      );
      expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
      expect(settled).toBe(true);
      expect(flood.failures).toEqual([]);
      expect(flood.acked).toBe(N);
      expect(code).toBe(0);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(memoryHigh());
      // Every acknowledged message is in the buffer, once.
      expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
    },
    90_000,
  );

  it('keeps no retained message of a client: 4 clients x 1,900 retained 60 KB messages on topics of their own, under MemoryHigh', async () => {
    const { run, url } = await startEmbedded(cleanup);
    const payload = Buffer.alloc(60_000, 0x41); // no rule decodes it: acknowledged, counted, and (before) kept by aedes
    let acked = 0;
    await Promise.all(
      [0, 1, 2, 3].map(async (c) => {
        const pub = await connectAsync(url, { reconnectPeriod: 0, clientId: `retain-${c}` });
        cleanup.add(() => pub.endAsync(true));
        for (let i = 0; i < 1900; i++) {
          await pub.publishAsync(`ward/${c}/junk-${i}/n`, payload, { qos: 1, retain: true });
          acked++;
        }
      }),
    );
    const alive = run.alive();
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    const peak = run.peakRss();
    process.stdout.write(
      `retained flood: ${acked} of 60 KB acknowledged, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(acked).toBe(7600);
    expect(code).toBe(0);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(memoryHigh());
  }, 90_000);

  it('a subscriber that stops reading is disconnected; the gateway runs on, under MemoryHigh, and commits every reading published meanwhile', async () => {
    const { s, run, url } = await withSubscribers();
    // A display that subscribes to everything, then reads nothing more (a frozen app).
    const display = await connectAsync(url, { clientId: 'frozen-display', reconnectPeriod: 0, keepalive: 0 });
    cleanup.add(() => display.endAsync(true));
    await display.subscribeAsync('ward/#', { qos: 1 });
    let displayIsClosed = false;
    display.stream.once('close', () => {
      displayIsClosed = true;
    });
    display.stream.pause();
    // Four sensors send readings (each acknowledged after its commit); four others send 30 KB
    // messages no rule decodes (acknowledged at once), one after the other: only the display takes those.
    const READERS = 4;
    const EACH = 100;
    const BLOBS = 3000;
    const readings = Array.from({ length: READERS }, async (_, c) => {
      const pub = await connectAsync(url, { reconnectPeriod: 0, clientId: `sensor-${c}` });
      cleanup.add(() => pub.endAsync(true));
      await Promise.all(Array.from({ length: EACH }, (_, i) => pub.publishAsync(`ward/${c}/ox${c}/n`, String(c * EACH + i), { qos: 1 })));
    });
    await Promise.all([...readings, cameras(url, BLOBS)]);
    const alive = run.alive();
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    const peak = run.peakRss();
    process.stdout.write(`frozen subscriber: ${READERS * EACH} readings and ${4 * BLOBS} messages of 30 KB, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB\n`);
    expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(code).toBe(0);
    expect(peak).toBeLessThan(memoryHigh());
    expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(READERS * EACH));
    // The display, reading again, finds its connection closed by the gateway.
    display.stream.resume();
    await waitFor(() => displayIsClosed, 'the frozen display disconnected');
  }, 90_000);

  it('keeps at most queuedPerSubscriber messages for a display whose persistent session is away: 12,000 messages of 30 KB, under MemoryHigh', async () => {
    const { run, url } = await withSubscribers();
    const display = await connectAsync(url, { clientId: 'display-away', clean: false, reconnectPeriod: 0 });
    await display.subscribeAsync('ward/#', { qos: 1 });
    await display.endAsync(); // away; its session stays
    await cameras(url, 3000);
    const alive = run.alive();
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    const peak = run.peakRss();
    process.stdout.write(
      `persistent subscriber away: 12000 messages of 30 KB, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(code).toBe(0);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(memoryHigh());
  }, 90_000);
  it('holds a bounded number of topic filters: 100,000 from one client, 250 persistent sessions of 40; the gateway runs on, under MemoryHigh', async () => {
    const { s, run, url } = await withSubscribers();
    // A SUBSCRIBE with a refused filter is an error to mqtt.js; the SUBACK still came. No SUBACK comes from a dead gateway.
    const subscribe = (c: MqttClient, f: string[]): Promise<unknown> =>
      Promise.race([new Promise<void>((r) => c.subscribe(f, { qos: 1 }, () => r())), run.exited]);
    const greedy = await connectAsync(url, { clientId: 'greedy', reconnectPeriod: 0 });
    cleanup.add(() => greedy.endAsync(true));
    for (let p = 0; p < 100 && run.alive(); p++)
      await subscribe(
        greedy,
        Array.from({ length: 1000 }, (_, i) => `ward/${p}/${i}/${'x'.repeat(40)}/#`),
      );
    // Within the connection burst of one source address.
    for (let k = 0; k < 250 && run.alive(); k++) {
      const c = await connectAsync(url, { clientId: `session-${k}`, clean: false, reconnectPeriod: 0 });
      await subscribe(
        c,
        Array.from({ length: 40 }, (_, i) => `ward/s${k}/${i}/#`),
      );
      await c.endAsync();
    }
    const N = await readingsAfter(run, url, 1);
    await stopUnderMemoryHigh(run, `topic filters: 110,000 subscribed`);
    expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
  }, 120_000);
  it('holds QoS 2 messages awaiting PUBREL up to a bound: 12 clients sending 60 KB ones without PUBREL; the gateway runs on, under MemoryHigh', async () => {
    const { s, run, url } = await withSubscribers();
    const { port } = new URL(url);
    const payload = Buffer.alloc(60_000, 0x41);
    // Raw packets: MQTT.js would send each PUBREL. Each client sends until it is closed (or 2,000).
    await Promise.all(
      Array.from(
        { length: 12 },
        (_, k) =>
          new Promise<void>((resolve) => {
            const sock = netConnect(Number(port), '127.0.0.1');
            cleanup.add(() => sock.destroy());
            sock.on('error', () => undefined);
            sock.once('close', () => resolve());
            const send = (p: object): boolean => sock.write(mqttPacket.generate(p as mqttPacket.Packet));
            send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `no-pubrel-${k}`, keepalive: 0 });
            let id = 1;
            const more = (): void => {
              while (id <= 2000 && !sock.destroyed) {
                if (!send({ cmd: 'publish', qos: 2, messageId: id++, topic: `ward/${k}/cam/blob`, payload, retain: false, dup: false })) {
                  sock.once('drain', more);
                  return;
                }
              }
              sock.end();
            };
            more();
          }),
      ),
    );
    const N = await readingsAfter(run, url, 2);
    await stopUnderMemoryHigh(run, `QoS 2 without PUBREL: 12 clients`);
    expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
  }, 120_000);
});
