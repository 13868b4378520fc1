/**
 * Fuzz, part 2: random IntelliVue and S/5 messages never throw; a stream of K delimited
 * reference frames with one byte changed inside each yields exactly K outcomes (decoded or
 * rejected with a reason); 100 MB of garbage without a delimiter leaves the heap flat.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import type { SerialProtocolName } from '../../src/devices/serial/config.js';
import { decodeAlarmMessage, decodePhysiological, decodeRecord } from '../../src/devices/serial/protocols/ge-s5/decode.js';
import { FrameDecoder as GeFrames } from '../../src/devices/serial/protocols/ge-s5/frame.js';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { alarms, decodeMessage, numerics } from '../../src/devices/serial/protocols/intellivue/decode.js';
import { FrameDecoder as PhilipsFrames, encodeFrame as philipsFrame } from '../../src/devices/serial/protocols/intellivue/frame.js';
import { measuredData, alarms as medibusAlarms } from '../../src/devices/serial/protocols/medibus/decode.js';
import { FrameDecoder as MedibusFrames } from '../../src/devices/serial/protocols/medibus/frame.js';
import { Format2Decoder, Format8Decoder } from '../../src/devices/serial/protocols/nonin/decode.js';
import { hex, REF } from './vectors.js';

const RANDOM_INPUTS = 1_000_000;
const MUTATIONS = 200_000;
const DECODER_INPUTS = 200_000;

function randomBytes(r: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** Full decode of one IntelliVue user-data blob, as the session does. */
function philipsDecode(u: Buffer): void {
  const d = decodeMessage(u);
  if (d.ok && d.msg.kind === 'poll_result') for (const o of d.msg.observations) numerics(o), alarms(o);
}

function geDecode(rec: Buffer): void {
  const r = decodeRecord(rec);
  if (typeof r !== 'string') for (const s of r.subrecords) decodePhysiological(s.data), decodeAlarmMessage(s.data);
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

describe('fuzz: mutated real frames give exactly one outcome each', () => {
  it('IntelliVue: every frame with one inner byte changed is decoded or rejected, once', () => {
    const r = rng(7);
    const vectors = ['V-PH-3', 'V-PH-4', 'V-PH-5', 'V-PH-5b', 'V-PH-7'].map((k) => hex(REF[k]!));
    const dec = new PhilipsFrames();
    let outcomes = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const f = Buffer.from(vectors[i % vectors.length]!);
      const at = 1 + Math.floor(r() * (f.length - 2));
      let v = Math.floor(r() * 256);
      // stay inside the frame: no delimiter, and do not turn an escape into a non-escape or back
      while ([0xc0, 0xc1, 0x7d].includes(v) || f[at] === 0x7d || f[at - 1] === 0x7d) {
        v = Math.floor(r() * 256);
        if (f[at] === 0x7d || f[at - 1] === 0x7d) break;
      }
      if (f[at] !== 0x7d && f[at - 1] !== 0x7d) f[at] = v;
      const out = dec.push(f);
      outcomes += out.frames.length + out.rejects.length;
      for (const u of out.frames) philipsDecode(u);
    }
    expect(outcomes).toBe(MUTATIONS);
  });

  it('S/5: every frame with one inner byte changed is decoded or rejected, once', () => {
    const r = rng(8);
    const vectors = ['V-GE-1', 'V-GE-3', 'V-GE-5'].map((k) => hex(REF[k]!));
    const dec = new GeFrames();
    let outcomes = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const f = Buffer.from(vectors[i % vectors.length]!);
      const at = 1 + Math.floor(r() * (f.length - 2));
      if (f[at] !== 0x7d && f[at - 1] !== 0x7d) {
        let v = Math.floor(r() * 256);
        while (v === 0x7e || v === 0x7d) v = Math.floor(r() * 256);
        f[at] = v;
      }
      const out = dec.push(f);
      outcomes += out.frames.length + out.rejects.length;
      for (const rec of out.frames) geDecode(rec);
    }
    expect(outcomes).toBe(MUTATIONS);
  });
});

describe('fuzz: mutated MEDIBUS messages give exactly one outcome each', () => {
  it('every message with one inner byte changed (never to a control byte) is decoded or rejected, once', () => {
    const r = rng(9);
    const vectors = [
      '01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D',
      '01 27 4B 31 30 50 41 57 20 48 49 47 48 20 20 20 20 37 43 0D',
      '1B 51 36 43 0D',
      '01 52 30 31 36 31 27 4D 79 20 50 43 27 30 31 2E 30 30 3A 30 33 2E 30 30 46 43 0D',
    ].map(hex);
    const control = new Set([0x1b, 0x01, 0x0d, 0x18, 0x11, 0x13]);
    const dec = new MedibusFrames();
    let outcomes = 0;
    for (let i = 0; i < MUTATIONS; i++) {
      const f = Buffer.from(vectors[i % vectors.length]!);
      const at = 1 + Math.floor(r() * (f.length - 2));
      let v = Math.floor(r() * 0x80);
      while (control.has(v)) v = Math.floor(r() * 0x80);
      f[at] = v;
      const out = dec.push(f);
      outcomes += out.frames.length + out.rejects.length;
      for (const fr of out.frames) measuredData(fr.data), medibusAlarms(fr.data);
    }
    expect(outcomes).toBe(MUTATIONS);
  });
});

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
