/**
 * The topic filters the embedded broker holds are bounded: per client, in all (persistent
 * sessions' stored filters included, there or away), and in length. What is refused is read from
 * the SUBACK the broker sends (0x80 per refused filter); what counts is what the test subscribed.
 */
import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/context.js';
import { Cleanup } from './helpers/gateway.js';
import { anonymousBroker, REFUSED, subackCodes } from './helpers/limits.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function client(url: string, clientId: string, clean = true): Promise<MqttClient> {
  const c = connect(url, { clientId, clean, reconnectPeriod: 0, protocolVersion: 4 });
  cleanup.add(() => c.end(true));
  await new Promise((r, j) => {
    c.once('connect', r);
    c.once('error', j);
  });
  return c;
}

const broker = (limits: object): Promise<string> => anonymousBroker(cleanup, limits);

const filters = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `ward/${prefix}/${i}/#`);
const ok = (n: number): number[] => Array<number>(n).fill(1);
const no = (n: number): number[] => Array<number>(n).fill(REFUSED);

describe('embedded broker: subscriptions held', () => {
  it('a client holds at most subscriptionsPerClient filters; one it holds can be renewed, one it drops frees its place', async () => {
    const url = await broker({ subscriptionsPerClient: 5 });
    const c = await client(url, 'display-1');
    expect(await subackCodes(c, filters('a', 8))).toEqual([...ok(5), ...no(3)]);
    expect(await subackCodes(c, ['ward/a/0/#'])).toEqual(ok(1));
    await c.unsubscribeAsync(['ward/a/0/#', 'ward/a/1/#']);
    expect(await subackCodes(c, filters('b', 3))).toEqual([...ok(2), ...no(1)]);
    expect(c.connected).toBe(true);
    // Another client has places of its own.
    expect(await subackCodes(await client(url, 'display-2'), filters('c', 5))).toEqual(ok(5));
  });

  it('the broker holds at most `subscriptions` filters: an away persistent session keeps its place, its filters refused by the ACL take none', async () => {
    const url = await broker({ subscriptionsPerClient: 10, subscriptions: 6 });
    const a = await client(url, 'display-a');
    expect(await subackCodes(a, filters('a', 3))).toEqual(ok(3));
    // The ACL refuses other/#; aedes hands the whole packet to its persistence.
    const p = await client(url, 'display-p', false);
    expect(await subackCodes(p, [...filters('p', 2), 'other/1', 'other/2', 'other/3'])).toEqual([...ok(2), ...no(3)]);
    await p.endAsync();
    const c = await client(url, 'display-c');
    expect(await subackCodes(c, filters('c', 2))).toEqual([...ok(1), ...no(1)]);
    // The clean session's filters leave with it (once the broker has seen it go: the first place).
    await a.endAsync();
    await waitFor(async () => (await subackCodes(c, ['ward/d/0/#']))[0] === 1, 'a place freed by the clean session that ended');
    expect(await subackCodes(c, filters('d', 4))).toEqual([...ok(3), ...no(1)]);
    // The persistent session comes back and keeps what it had without taking more places.
    const back = await client(url, 'display-p', false);
    expect(await subackCodes(back, filters('p', 2))).toEqual(ok(2));
    expect(await subackCodes(back, filters('q', 1))).toEqual(no(1));
    // Ended with a clean session, its stored filters are gone.
    await back.endAsync();
    await (await client(url, 'display-p', true)).endAsync();
    await waitFor(async () => (await subackCodes(c, ['ward/e/0/#']))[0] === 1, 'a place freed by the session cleaned');
    expect(await subackCodes(c, filters('e', 2))).toEqual(ok(2));
  });

  it('refuses a filter longer than maxFilterLength', async () => {
    const url = await broker({ maxFilterLength: 64 });
    const c = await client(url, 'display-1');
    const long = `ward/${'x'.repeat(60)}`;
    expect(await subackCodes(c, [long.slice(0, 64), long])).toEqual([1, REFUSED]);
  });
});
