/**
 * What the embedded broker holds of QoS 2 messages between their PUBLISH and their PUBREL is
 * bounded in bytes, all clients together (limits.inflightBytes): a client that never sends
 * PUBREL is disconnected once it would go over, and what a client releases (PUBREL, or its clean
 * session ending, or a persistent session ended after limits.persistentSessionExpiry) leaves the
 * bound, so a client that completes each exchange sends any amount.
 * Raw MQTT packets over a socket: the test decides when PUBREL goes.
 */
import { connect as netConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import mqttPacket from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const LIMIT = 64 * 1024;
const PAYLOAD = Buffer.alloc(10 * 1024, 0x41); // no rule decodes it: taken at once

interface Raw {
  /** PUBREC / PUBCOMP message ids received, in order. */
  pubrec: number[];
  pubcomp: number[];
  isClosed: () => boolean;
  send: (p: object) => void;
  /** Resolves once `cond` holds or the connection closed. */
  until: (cond: () => boolean) => Promise<void>;
}

async function raw(url: string, clientId: string, clean = true): Promise<Raw> {
  const { hostname, port } = new URL(url);
  const sock = netConnect(Number(port), hostname);
  cleanup.add(() => sock.destroy());
  const parser = mqttPacket.parser();
  const r = { pubrec: [] as number[], pubcomp: [] as number[], connack: false };
  let closed = false;
  let wake = (): void => undefined;
  parser.on('packet', (p) => {
    if (p.cmd === 'connack') r.connack = true;
    if (p.cmd === 'pubrec') r.pubrec.push(p.messageId!);
    if (p.cmd === 'pubcomp') r.pubcomp.push(p.messageId!);
    wake();
  });
  sock.on('data', (d) => parser.parse(d));
  sock.on('error', () => undefined);
  sock.once('close', () => {
    closed = true;
    wake();
  });
  const until = async (cond: () => boolean): Promise<void> => {
    while (!cond() && !closed) await new Promise<void>((res) => (wake = res));
  };
  const send = (p: object): void => {
    sock.write(mqttPacket.generate(p as mqttPacket.Packet));
  };
  send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 0 });
  await until(() => r.connack);
  return { pubrec: r.pubrec, pubcomp: r.pubcomp, isClosed: () => closed, send, until };
}

const publish = (messageId: number) => ({ cmd: 'publish', qos: 2, messageId, topic: 'ward/12/cam/blob', payload: PAYLOAD, retain: false, dup: false });

describe('embedded broker: QoS 2 messages awaiting PUBREL', () => {
  it('closes a client holding over inflightBytes without PUBREL, releases what it held; a client completing each exchange sends 100x the bound', async () => {
    const { url } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: {
        tcp: { host: '127.0.0.1', port: 0 },
        auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } },
        limits: { inflightBytes: LIMIT, messagesPerSecond: 1_000_000, burst: 1_000_000 },
      },
      rules: SENSOR_RULES,
    });
    const SENT = 50; // 500 KB, eight times the bound
    const greedy = await raw(url, 'greedy');
    for (let id = 1; id <= SENT; id++) greedy.send(publish(id));
    await greedy.until(() => greedy.pubrec.length === SENT);
    expect(greedy.isClosed()).toBe(true);
    expect(greedy.pubrec.length).toBeGreaterThan(0);
    expect(greedy.pubrec.length * PAYLOAD.length).toBeLessThanOrEqual(LIMIT);

    const polite = await raw(url, 'polite');
    const N = (100 * LIMIT) / PAYLOAD.length;
    for (let id = 1; id <= N; id++) {
      polite.send(publish(id));
      await polite.until(() => polite.pubrec.includes(id));
      polite.send({ cmd: 'pubrel', messageId: id });
      await polite.until(() => polite.pubcomp.includes(id));
      if (polite.isClosed()) break;
    }
    expect(polite.isClosed()).toBe(false);
    expect(polite.pubcomp).toEqual(Array.from({ length: N }, (_, i) => i + 1));
  });

  it('what a persistent session held without PUBREL is released once the session expires', async () => {
    const EXPIRY_MS = 2500; // the second client's messages go out well within it, even on a loaded machine
    const { url } = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: {
        tcp: { host: '127.0.0.1', port: 0 },
        auth: { anonymous: { publish: ['ward/#'], subscribe: ['ward/#'] } },
        limits: { inflightBytes: LIMIT, persistentSessionExpiry: EXPIRY_MS },
      },
      rules: SENSOR_RULES,
    });
    // Five of the bound's six places, held by a persistent session that goes away without PUBREL.
    const away = await raw(url, 'away', false);
    for (let id = 1; id <= 5; id++) away.send(publish(id));
    await away.until(() => away.pubrec.length === 5);
    away.send({ cmd: 'disconnect' });
    await away.until(() => false);
    // Its session still holds them: a second client gets one place.
    const before = await raw(url, 'before');
    for (let id = 1; id <= 3; id++) before.send(publish(id));
    await before.until(() => before.pubrec.length === 3);
    expect(before.pubrec).toEqual([1]);
    expect(before.isClosed()).toBe(true);
    // Once it expired, all six places are free.
    await sleep(2 * EXPIRY_MS); // past it and swept (every EXPIRY_MS / 4)
    const after = await raw(url, 'after');
    for (let id = 1; id <= 6; id++) after.send(publish(id));
    await after.until(() => after.pubrec.length === 6);
    expect(after.pubrec).toEqual([1, 2, 3, 4, 5, 6]);
    expect(after.isClosed()).toBe(false);
  });
});
