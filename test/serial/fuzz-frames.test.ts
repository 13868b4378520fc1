/**
 * Fuzz, part 2: random IntelliVue and S/5 messages never throw; 100 MB of garbage without a
 * delimiter leaves the heap flat. Mutated frames of every layer: fuzz-mutate.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { SerialProtocolName } from '../../src/devices/serial/config.js';
import { decodeAlarmMessage, decodePhysiological, decodeRecord } from '../../src/devices/serial/protocols/ge-s5/decode.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { alarms, decodeMessage, numerics } from '../../src/devices/serial/protocols/intellivue/decode.js';
import { FrameDecoder as PhilipsFrames, encodeFrame as philipsFrame } from '../../src/devices/serial/protocols/intellivue/frame.js';
import { Format2Decoder, Format8Decoder } from '../../src/devices/serial/protocols/nonin/decode.js';

const DECODER_INPUTS = 200_000;

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Full decode of one IntelliVue user-data blob, as the session does. */
function philipsDecode(u: Buffer): void {
  const d = decodeMessage(u);
  if (d.ok && d.msg.kind === 'poll_result')
    for (const o of d.msg.observations) {
      numerics(o);
      alarms(o);
    }
}

function geDecode(rec: Buffer): void {
  const r = decodeRecord(rec);
  if (typeof r !== 'string')
    for (const s of r.subrecords) {
      decodePhysiological(s.data);
      decodeAlarmMessage(s.data);
    }
}

describe('fuzz: random messages never throw', () => {
  it('IntelliVue message decoder over random user data and random valid frames', () => {
    const r = rng(5);
    let lost = 0;
    for (let i = 0; i < DECODER_INPUTS; i++) {
      const u = randomBytes(r, Math.floor(r() * 80));
      if (u.length >= 4 && r() < 0.5) u.set([0xe1, 0, 0, 2], 0);
      philipsDecode(u);
      if (i % 10 === 0) {
        const f = new PhilipsFrames().push(philipsFrame(u)).frames;
        if (f.length !== 1 || !f[0]!.equals(u)) lost++;
      }
    }
    expect(lost).toBe(0);
  });

  it('S/5 record decoder over random records', () => {
    const r = rng(6);
    for (let i = 0; i < DECODER_INPUTS; i++) {
      const rec = randomBytes(r, 40 + Math.floor(r() * 600));
      rec.writeUInt16LE(rec.length, 0);
      if (r() < 0.5) rec[18] = 1;
      geDecode(rec);
    }
  });
});

// Mutated frames: fuzz-mutate.test.ts (every framing layer, each outcome checked against the injected damage).

describe('fuzz: 100 MB of garbage with no delimiter keeps memory flat', () => {
  const MB = 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 0x55); // no delimiter of any protocol: not C0/C1/7E/0A, bit 7 clear, not 01
  const cases: [string, (b: Buffer) => unknown][] = [];
  for (const name of Object.keys(PROTOCOLS) as SerialProtocolName[]) {
    const s = PROTOCOLS[name].createSession({ pollIntervalMs: 1000, ...(name === 'line' ? { options: { format: 'wg1' } } : {}) });
    s.open(0);
    cases.push([name, (b) => s.data(b, 0)]);
  }
  const f2 = new Format2Decoder();
  const f8 = new Format8Decoder();
  const starts = Buffer.alloc(chunk.length, 0x80); // format 8 frame starts only, never a whole frame
  cases.push(['nonin format 2', (b) => f2.push(b)], ['nonin format 8 (a run of frame starts)', () => f8.push(starts)]);

  it.each(cases)('%s', (_name, feed) => {
    for (let i = 0; i < 16; i++) feed(chunk); // warm up
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let rejects = 0;
    for (let i = 0; i < (100 * MB) / chunk.length; i++) {
      const out = feed(chunk) as { rejects?: string[] };
      rejects += out.rejects?.length ?? 0;
    }
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    expect(grown).toBeLessThan(16 * MB);
    expect(rejects).toBeLessThanOrEqual(1);
  });
});
