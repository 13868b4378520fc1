/**
 * The simulated controller's ground truth at power-off: every value it recorded as sent on a
 * link was read by the host before the power went (the host answered a barrier request sent
 * after it). A scripted host on the pty pair (raw H4, no noble) holds requests in flight when
 * power-off begins: a battery read sent with, or just before, its answer to the barrier, and a
 * CCCD write that would start the notifications again. The world test relies on this: a value
 * in the truth file the host never got would be blamed on the adapter.
 */
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadStream, WriteStream } from 'node:tty';
import { afterEach, describe, expect, it } from 'vitest';
import type { TruthRecord } from '../../hardware-mocks/ble/controller.js';
import { GattServer } from '../../hardware-mocks/ble/gatt-server.js';
import { makeWearables } from '../../hardware-mocks/ble/peripherals.js';
import { BleWorld } from '../../hardware-mocks/ble/world.js';
import { waitFor } from '../devices/pipeline.js';

const u16 = (v: number): number[] => [v & 0xff, v >> 8];
const att = (handle: number, pdu: number[]): Buffer => Buffer.from([0x02, ...u16(handle), ...u16(4 + pdu.length), ...u16(pdu.length), 0x04, 0x00, ...pdu]);
const MTU_RSP = [0x03, ...u16(23)];

/** A raw H4 host: parses what the controller sends, logs the ATT PDUs with how many barrier answers it had sent by then. */
class ScriptedHost {
  private readonly input: ReadStream;
  private readonly output: WriteStream;
  private buf = Buffer.alloc(0);
  handle = -1;
  answers = 0;
  /** ATT PDUs received (hex), each with the number of MTU responses the host had sent when it read it. */
  readonly pdus: { hex: string; answersBefore: number }[] = [];
  /** Called on each MTU request from the controller (its barrier); the default answers at once. */
  onMtuReq: (n: number) => void = () => this.answerBarrier();
  private mtuReqs = 0;

  constructor(path: string) {
    const fd = openSync(path, 'r+');
    this.input = new ReadStream(fd);
    this.input.setRawMode(true);
    this.output = new WriteStream(fd);
    this.input.on('data', (d: Buffer) => this.onBytes(d));
    this.input.on('error', () => undefined);
    this.output.on('error', () => undefined);
  }

  write(...pkts: Buffer[]): void {
    this.output.write(Buffer.concat(pkts));
  }

  /** The MTU response to the controller's barrier, with whatever else goes in the same write. */
  answerBarrier(...with_: Buffer[]): void {
    this.answers++;
    this.write(att(this.handle, MTU_RSP), ...with_);
  }

  connect(address: string): void {
    const addr = address
      .split(':')
      .reverse()
      .map((h) => Number.parseInt(h, 16));
    const p = [0x60, 0x00, 0x30, 0x00, 0x00, 0x00, ...addr, 0x00, 0x18, 0x00, 0x28, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00, 0x00];
    this.write(Buffer.from([0x01, 0x0d, 0x20, p.length, ...p]));
  }

  close(): void {
    this.input.destroy();
    this.output.destroy();
  }

  private onBytes(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 3) return;
      const len = this.buf[0] === 0x04 ? 3 + this.buf[2]! : this.buf.length >= 5 ? 5 + this.buf.readUInt16LE(3) : Number.POSITIVE_INFINITY;
      if (this.buf.length < len) return;
      const pkt = this.buf.subarray(0, len);
      this.buf = this.buf.subarray(len);
      if (pkt[0] === 0x04 && pkt[1] === 0x3e && pkt[3] === 0x01 && pkt[4] === 0) this.handle = pkt.readUInt16LE(5);
      if (pkt[0] !== 0x02) continue;
      const pdu = pkt.subarray(9);
      this.pdus.push({ hex: pdu.toString('hex'), answersBefore: this.answers });
      if (pdu[0] === 0x02) this.onMtuReq(++this.mtuReqs);
    }
  }
}

/** What the host does when the first barrier request arrives (later ones: answered at once). */
type Script = (h: ScriptedHost, handles: { battery: number; batteryCccd: number; measurementCccd: number }) => void | Promise<void>;

const cases: [string, Script][] = [
  // The host's answer and its battery read leave in one write (as noble's do: both queued in one turn).
  ['a battery read in the same write as the barrier answer', (h, x) => h.answerBarrier(att(h.handle, [0x0a, ...u16(x.battery)]))],
  [
    'a battery read just before the barrier answer',
    (h, x) => {
      h.write(att(h.handle, [0x0a, ...u16(x.battery)]));
      h.answerBarrier();
    },
  ],
  [
    'a CCCD write during power-off, then the answer with a battery read',
    async (h, x) => {
      h.write(att(h.handle, [0x12, ...u16(x.batteryCccd), 0x01, 0x00]), att(h.handle, [0x12, ...u16(x.measurementCccd), 0x01, 0x00]));
      await new Promise((r) => setTimeout(r, 350)); // several notification periods
      h.answerBarrier(att(h.handle, [0x0a, ...u16(x.battery)]));
    },
  ],
];

describe('simulated controller: power-off and its ground truth', () => {
  let world: BleWorld | null = null;
  let host: ScriptedHost | null = null;
  afterEach(async () => {
    host?.close();
    await world?.close();
    world = host = null;
  });

  it.each(cases)('%s: every value in the truth file was read by the host before the power went', async (_name, script) => {
    const [p] = makeWearables(1, 3, { intervalMs: 50 });
    const gatt = new GattServer(p!.services());
    const measurement = gatt.valueHandle.get(p!.measurementUuid())!;
    const battery = gatt.valueHandle.get(0x2a19)!;
    const dir = mkdtempSync(join(tmpdir(), 'wardgate-ble-poweroff-'));
    const truthFile = join(dir, 'truth.jsonl');
    world = new BleWorld({ dir, peripherals: [p!], advIntervalMs: 10, batteryEvery: 2, truthFile });
    await world.powerOn();
    const h = new ScriptedHost(world.hostPort);
    host = h;
    h.connect(p!.address);
    await waitFor(() => h.handle >= 0, 'connected');
    // Notifications on (measurement and battery), then a read, as the adapter does.
    h.write(att(h.handle, [0x12, ...u16(measurement + 1), 0x01, 0x00]), att(h.handle, [0x12, ...u16(battery + 1), 0x01, 0x00]));
    h.write(att(h.handle, [0x0a, ...u16(battery)]));
    await waitFor(() => h.pdus.filter((x) => x.hex.startsWith(`1b${battery.toString(16).padStart(2, '0')}`)).length >= 2, 'battery notifications');

    h.onMtuReq = (n) => {
      if (n === 1) void script(h, { battery, batteryCccd: battery + 1, measurementCccd: measurement + 1 });
      else h.answerBarrier();
    };
    await world.powerOff();
    await world.close();

    const truth = readFileSync(truthFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TruthRecord);
    expect(truth.filter((t) => t.how === 'read')).toHaveLength(2);
    const sent = truth.map((t) => (t.how === 'read' ? `0b${t.hex}` : `1b${Buffer.from(u16(t.handle)).toString('hex')}${t.hex}`));
    // Read by the host, then a barrier answered: the controller knew the host had it before the power went.
    const values = h.pdus.filter((x) => x.hex.startsWith('1b') || x.hex.startsWith('0b'));
    const confirmed = values.filter((x) => x.answersBefore < h.answers).map((x) => x.hex);
    expect(confirmed).toEqual(sent);
    expect(values.map((x) => x.hex)).toEqual(sent);
    // Once power-off began the peripheral sent no more values (a CCCD written then starts nothing), only answers.
    const first = h.pdus.findIndex((x) => x.hex.startsWith('02'));
    expect(h.pdus.slice(first).filter((x) => x.hex.startsWith('1b'))).toEqual([]);
  });
});
