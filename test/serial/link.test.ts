/**
 * The serial link over a real socat pty pair: what one end writes arrives at the other whole and
 * in order, also when it is more than the ptys hold at once (writes wait for the poller's
 * "writable" and go on where they stopped) and when the reading end was paused meanwhile
 * (nothing is read while paused, everything after the resume).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PtyPair } from '../../hardware-mocks/serial/pty.js';
import { type Link, openLink } from '../../src/devices/serial/link.js';

const SETTINGS = { baudRate: 115200, dataBits: 8, parity: 'none', stopBits: 1, rtscts: false } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('serial link', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('256 KiB written in one call arrive whole and in order at a reader paused meanwhile, after its resume', async () => {
    const pair = new PtyPair(mkdtempSync(join(tmpdir(), 'wg-link-')), 'p');
    await pair.plug();
    cleanup.push(() => pair.unplug());
    const got: Buffer[] = [];
    const closedWith: (Error | undefined)[] = [];
    const host: Link = await openLink(pair.host, SETTINGS, { data: (c) => got.push(c), closed: (e) => closedWith.push(e) });
    cleanup.push(() => host.close());
    host.pause();
    const device = await openLink(pair.device, SETTINGS, { data: () => undefined, closed: () => undefined });
    cleanup.push(() => device.close());
    const sent = Buffer.alloc(256 * 1024);
    for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 10)) & 0xff;
    device.write(sent);
    await sleep(300);
    expect(got.length).toBe(0);
    host.resume();
    const end = Date.now() + 20_000;
    while (got.reduce((n, c) => n + c.length, 0) < sent.length && Date.now() < end) await sleep(20);
    expect(Buffer.concat(got).equals(sent)).toBe(true);
    expect(closedWith).toEqual([]);
  });

  it('a close of our own reports no error; writes after it are dropped', async () => {
    const pair = new PtyPair(mkdtempSync(join(tmpdir(), 'wg-link-')), 'q');
    await pair.plug();
    cleanup.push(() => pair.unplug());
    const closedWith: (Error | undefined)[] = [];
    const host = await openLink(pair.host, SETTINGS, { data: () => undefined, closed: (e) => closedWith.push(e) });
    await host.close();
    host.write(Buffer.from('late'));
    expect(closedWith).toEqual([undefined]);
  });
});
