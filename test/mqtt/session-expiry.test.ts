/**
 * Persistent sessions (clean session off) whose client stays away longer than
 * limits.persistentSessionExpiry are ended, and what they held is given back; past
 * limits.awaySessions sessions away, the one away longest is ended at once. Everything is read from what
 * the test's own clients see: CONNACK's session-present flag, the messages a display gets when it
 * comes back, and the SUBACK codes of a display that subscribes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type IConnackPacket, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/context.js';
import { Cleanup } from './helpers/gateway.js';
import { anonymousBroker, subackCodes } from './helpers/limits.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Long enough for what a test does before it checks a session that must still be there, on a loaded machine. */
const EXPIRY_MS = 2500;
/** Long enough for a session away since now to be past EXPIRY_MS and swept (every EXPIRY_MS / 4). */
const PAST_EXPIRY_MS = 2 * EXPIRY_MS;

interface Display {
  c: MqttClient;
  sessionPresent: boolean;
  /** Payloads received, in order. */
  got: string[];
}

async function display(url: string, clientId: string, clean = false): Promise<Display> {
  const c = connect(url, { clientId, clean, reconnectPeriod: 0, protocolVersion: 4, resubscribe: false });
  cleanup.add(() => c.end(true));
  const got: string[] = [];
  c.on('message', (_t, payload) => got.push(payload.toString()));
  const connack = await new Promise<IConnackPacket>((r, j) => {
    c.once('connect', r);
    c.once('error', j);
  });
  return { c, sessionPresent: connack.sessionPresent, got };
}

/** The SUBACK return code of one filter at QoS 1 (128: refused). */
const subscribe = async (c: MqttClient, filter: string): Promise<number> => (await subackCodes(c, [filter]))[0]!;

const broker = (limits: object): Promise<string> => anonymousBroker(cleanup, limits);

async function publish(url: string, payloads: string[]): Promise<void> {
  const p = await display(url, `pub-${Math.random()}`, true);
  for (const m of payloads) await p.c.publishAsync('ward/notes/board', m, { qos: 1 });
  await p.c.endAsync();
}

describe('embedded broker: persistent sessions away too long', () => {
  it('a display back before persistentSessionExpiry finds its session and what was queued; one back after finds neither', async () => {
    const url = await broker({ persistentSessionExpiry: EXPIRY_MS });
    const early = await display(url, 'display-early');
    const late = await display(url, 'display-late');
    expect(await subscribe(early.c, 'ward/notes/#')).toBe(1);
    expect(await subscribe(late.c, 'ward/notes/#')).toBe(1);
    await early.c.endAsync();
    await late.c.endAsync();
    await publish(url, ['q1', 'q2', 'q3']);

    const back = await display(url, 'display-early');
    expect(back.sessionPresent).toBe(true);
    await waitFor(() => back.got.length === 3, 'the queued messages');
    expect(back.got).toEqual(['q1', 'q2', 'q3']);

    await sleep(PAST_EXPIRY_MS);
    const after = await display(url, 'display-late');
    expect(after.sessionPresent).toBe(false);
    // Subscribed again, the first message it gets is one published now: nothing was kept for it.
    expect(await subscribe(after.c, 'ward/notes/#')).toBe(1);
    await publish(url, ['now']);
    await waitFor(() => after.got.length > 0, 'a message after subscribing again');
    expect(after.got).toEqual(['now']);
  });

  it("an expired session's filters give back their places in limits.subscriptions", async () => {
    const url = await broker({ persistentSessionExpiry: EXPIRY_MS, subscriptions: 4 });
    // Four sensors that made up a client id at each start, with a persistent session and a filter each.
    for (let i = 0; i < 4; i++) {
      const s = await display(url, `made-up-${i}`);
      expect(await subscribe(s.c, `ward/cmd/${i}`)).toBe(1);
      await s.c.endAsync();
    }
    const live = await display(url, 'display-1', true);
    expect(await subscribe(live.c, 'ward/alarms/#')).toBe(128);
    await waitFor(async () => (await subscribe(live.c, 'ward/alarms/#')) === 1, 'a place given back by the expired sessions', 10_000);
  });

  it("an expired session's queued messages give back their bytes in limits.queuedBytes", async () => {
    // 64 B payloads (+16 B of topic) against 1,000 B for all queues: at most 12 queued.
    const url = await broker({ persistentSessionExpiry: EXPIRY_MS, queuedBytes: 1000 });
    const payload = (p: string, i: number): string => `${p}${String(i).padStart(3, '0')}`.padEnd(64, '.');
    const first = await display(url, 'display-first');
    expect(await subscribe(first.c, 'ward/notes/#')).toBe(1);
    await first.c.endAsync();
    await publish(
      url,
      Array.from({ length: 20 }, (_, i) => payload('a', i)),
    );
    await sleep(PAST_EXPIRY_MS);
    const second = await display(url, 'display-second');
    expect(await subscribe(second.c, 'ward/notes/#')).toBe(1);
    await second.c.endAsync();
    const sent = Array.from({ length: 5 }, (_, i) => payload('b', i));
    await publish(url, sent);
    const back = await display(url, 'display-second');
    expect(back.sessionPresent).toBe(true);
    await waitFor(() => back.got.length === sent.length, 'the messages queued for the second display');
    expect(back.got).toEqual(sent);
  });

  it('past limits.awaySessions sessions away, the one away longest is ended at once', async () => {
    const url = await broker({ awaySessions: 2, subscriptions: 3 });
    for (const id of ['display-1', 'display-2', 'display-3']) {
      const d = await display(url, id);
      expect(await subscribe(d.c, `ward/${id}/#`)).toBe(1);
      await d.c.endAsync();
    }
    // The three filters held every place; display-1's session ended as the third left, freeing one.
    const live = await display(url, 'display-live', true);
    await waitFor(async () => (await subscribe(live.c, 'ward/alarms/#')) === 1, 'the place of the session ended');
    expect((await display(url, 'display-1')).sessionPresent).toBe(false);
    expect((await display(url, 'display-2')).sessionPresent).toBe(true);
    expect((await display(url, 'display-3')).sessionPresent).toBe(true);
  });
});
