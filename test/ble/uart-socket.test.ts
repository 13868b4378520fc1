/**
 * UartHciSocket (wardgate's H4 transport under noble's HCI layer) on a real pty pair: the
 * test plays the controller on the other end, byte by byte as it chooses.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, read, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnPtyPair } from '../../hardware-mocks/socat.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import { nobleFactory, stopNoble } from '../../src/devices/ble/noble.js';
import { UartHciSocket } from '../../src/devices/ble/uart-socket.js';

const RESET = Buffer.from('01030c00', 'hex');
const RESET_COMPLETE = Buffer.from('040e0401030c00', 'hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Pty {
  host: string;
  ctrl: number;
  socat: ChildProcess;
  /** What the host wrote to the controller's end, not yet taken by readCtrl. */
  fromHost: Buffer;
}
const open: Pty[] = [];
const sockets: UartHciSocket[] = [];

async function ptyPair(): Promise<Pty> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-uart-'));
  const host = join(dir, 'host');
  const ctrlPath = join(dir, 'ctrl');
  const socat = spawnPtyPair(host, ctrlPath);
  for (let i = 0; i < 200 && !(existsSync(host) && existsSync(ctrlPath)); i++) await sleep(25);
  const p: Pty = { host, ctrl: openSync(ctrlPath, 'r+'), socat, fromHost: Buffer.alloc(0) };
  open.push(p);
  // One reader for the whole test: a read left pending by a helper would take bytes meant for the next.
  const step = (): void => {
    const b = Buffer.alloc(256);
    read(p.ctrl, b, 0, b.length, null, (err, k) => {
      if (err || k === 0) return;
      p.fromHost = Buffer.concat([p.fromHost, b.subarray(0, k)]);
      step();
    });
  };
  step();
  return p;
}

/** Takes what the host wrote to the controller's end once `n` bytes have come, or what came within `ms`. */
async function readCtrl(p: Pty, n: number, ms = 5000): Promise<Buffer> {
  for (let t = 0; t < ms && p.fromHost.length < n; t += 20) await sleep(20);
  const got = p.fromHost;
  p.fromHost = Buffer.alloc(0);
  return got;
}

function bound(p: Pty, readPacingMs = 0): { s: UartHciSocket; packets: Buffer[]; states: boolean[] } {
  const s = new UartHciSocket();
  sockets.push(s);
  const packets: Buffer[] = [];
  const states: boolean[] = [];
  s.on('data', (d: Buffer) => packets.push(Buffer.from(d)));
  s.on('state', (up: boolean) => states.push(up));
  s.on('error', () => undefined);
  s.bindRaw(undefined, { uart: { port: p.host, baudRate: 1_000_000, readPacingMs } });
  s.start();
  return { s, packets, states };
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.stop();
  for (const p of open.splice(0)) {
    // socat first: the pending read on the controller's end then ends (hang-up) before its descriptor is closed.
    if (p.socat.exitCode === null && p.socat.signalCode === null) {
      p.socat.kill();
      await new Promise((r) => p.socat.once('exit', r));
    }
    closeSync(p.ctrl);
  }
});

describe('UartHciSocket (H4 over a pty)', () => {
  it('holds writes until the Reset is answered (answer split over two reads), then cuts packets split and joined across reads', async () => {
    const p = await ptyPair();
    const { s, packets, states } = bound(p);
    const cmd = Buffer.from('01010c08ffffffffffffff3f', 'hex'); // Set Event Mask
    s.write(cmd);
    // The Reset goes out at bind; the held command does not.
    expect((await readCtrl(p, RESET.length + cmd.length, 800)).toString('hex')).toBe(RESET.toString('hex'));
    // An event before the Reset's answer is dropped; the answer arrives in two pieces.
    writeSync(p.ctrl, Buffer.from('040e0401010c00', 'hex'));
    await sleep(60);
    writeSync(p.ctrl, RESET_COMPLETE.subarray(0, 3));
    await sleep(60);
    expect(states).toEqual([]);
    writeSync(p.ctrl, RESET_COMPLETE.subarray(3));
    expect((await readCtrl(p, cmd.length)).toString('hex')).toBe(cmd.toString('hex'));
    expect(states).toEqual([true]);
    expect(packets).toEqual([]);

    // Events and ACL packets (a notification, and one longer than a read of a few bytes), as one byte stream cut at random places.
    const rand = rng(13);
    const sent: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      if (rand() < 0.5) {
        const payload = Buffer.alloc(1 + Math.floor(rand() * 40), i & 0xff);
        sent.push(Buffer.concat([Buffer.from([0x04, 0x3e, payload.length]), payload]));
      } else {
        const att = Buffer.alloc(3 + Math.floor(rand() * 300), (i * 7) & 0xff);
        const l2 = Buffer.alloc(4);
        l2.writeUInt16LE(att.length, 0);
        l2.writeUInt16LE(0x0004, 2);
        const hdr = Buffer.from([0x02, 0x40 + (i % 3), 0x20, 0, 0]);
        hdr.writeUInt16LE(l2.length + att.length, 3);
        sent.push(Buffer.concat([hdr, l2, att]));
      }
    }
    const stream = Buffer.concat(sent);
    for (let o = 0; o < stream.length; ) {
      const n = 1 + Math.floor(rand() * (rand() < 0.3 ? 3 : 600));
      writeSync(p.ctrl, stream.subarray(o, o + n));
      o += n;
      if (rand() < 0.3) await sleep(2);
    }
    for (let i = 0; i < 200 && packets.length < sent.length; i++) await sleep(25);
    expect(packets.length).toBe(sent.length);
    expect(packets.map((b) => b.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')));
    expect(states).toEqual([true]);
  });

  it("reports the controller gone (state false) when the controller's end goes away, and stops without an error", async () => {
    const p = await ptyPair();
    const { s, states } = bound(p);
    await readCtrl(p, RESET.length, 2000);
    writeSync(p.ctrl, RESET_COMPLETE);
    for (let i = 0; i < 200 && states.length === 0; i++) await sleep(25);
    expect(states).toEqual([true]);
    expect(s.isDevUp()).toBe(true);
    p.socat.kill();
    for (let i = 0; i < 400 && states.length < 2; i++) await sleep(25);
    expect(states).toEqual([true, false]);
    expect(s.isDevUp()).toBe(false);
    s.stop();
  });

  it('with read pacing: every packet the controller wrote arrives, in order, in at most one read per pacing interval', async () => {
    const PACING_MS = 40;
    const p = await ptyPair();
    const { s, packets, states } = bound(p, PACING_MS);
    await readCtrl(p, RESET.length, 800);
    writeSync(p.ctrl, RESET_COMPLETE);
    for (let i = 0; i < 200 && states.length === 0; i++) await sleep(10);
    expect(states).toEqual([true]);
    const readsBefore = s.reads;
    // 60 events (vendor-specific, one byte of payload: the index), a few ms apart.
    const sent = Array.from({ length: 60 }, (_, i) => Buffer.from([0x04, 0xff, 0x01, i]));
    const t0 = performance.now();
    for (const e of sent) {
      writeSync(p.ctrl, e);
      await sleep(2);
    }
    for (let i = 0; i < 400 && packets.length < sent.length; i++) await sleep(10);
    const elapsed = performance.now() - t0;
    expect(packets.map((b) => b.toString('hex'))).toEqual(sent.map((b) => b.toString('hex')));
    // Reads: one per interval that passed, and one more at each end.
    expect(s.reads - readsBefore).toBeLessThanOrEqual(Math.ceil(elapsed / PACING_MS) + 2);
  });

  it('is what noble runs on for a UART controller (nobleFactory), unless the stock transport is asked for', async () => {
    const p = await ptyPair();
    const socketOf = async (stockUart: boolean): Promise<unknown> => {
      const n = nobleFactory({ uart: { port: p.host, baudRate: 1_000_000, readPacing: 0 } }, { stockUart })();
      n.on('stateChange', () => undefined);
      // noble binds its transport on the next tick after the first stateChange listener.
      await sleep(50);
      const socket = (n as unknown as { _bindings: { _hci: { _socket: unknown } } })._bindings._hci._socket;
      stopNoble(n);
      return socket;
    };
    expect(await socketOf(false)).toBeInstanceOf(UartHciSocket);
    expect(await socketOf(true)).not.toBeInstanceOf(UartHciSocket);
  });
  it('the read pause is the setting devices.ble.hci.uart.readPacing: 40 ms unless set, 0 allowed, above 50 ms refused', () => {
    const uart = (u: Record<string, unknown>) => bleConfigSchema.safeParse({ hci: { uart: { port: '/dev/ttyACM0', ...u } } });
    expect(uart({}).data?.hci.uart?.readPacing).toBe(40);
    expect(uart({ readPacing: '0ms' }).data?.hci.uart?.readPacing).toBe(0);
    expect(uart({ readPacing: '50ms' }).data?.hci.uart?.readPacing).toBe(50);
    expect(uart({ readPacing: '60ms' }).success).toBe(false);
  });
});
