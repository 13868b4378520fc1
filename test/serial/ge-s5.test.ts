/** GE S/5 framing, requests and record decoding against the reference's byte vectors (§3.8). */
import { describe, expect, it } from 'vitest';
import { decodeAlarmMessage, decodePhysiological, decodeRecord } from '../../src/devices/serial/protocols/ge-s5/decode.js';
import { checksum, encodeFrame, FrameDecoder } from '../../src/devices/serial/protocols/ge-s5/frame.js';
import { alarmRequest, displRequest } from '../../src/devices/serial/protocols/ge-s5/request.js';
import { GeS5Session } from '../../src/devices/serial/protocols/ge-s5/session.js';
import type { Session } from '../../src/devices/serial/protocols/types.js';
import { hex, REF } from './vectors.js';

const records = (wire: Buffer): Buffer[] => {
  const r = new FrameDecoder().push(wire);
  expect(r.rejects).toEqual([]);
  return r.frames;
};

describe('S/5 requests are byte-exact', () => {
  it.each([
    ['V-GE-1 DISPL every 5 s, classes 0x0E, level 9', () => displRequest(5, 0x0e, 9)],
    ['V-GE-2 stop DISPL', () => displRequest(0, 0, 9)],
    ['V-GE-3 alarm differential mode', () => alarmRequest(2, 0)],
  ])('%s', (name, make) => {
    expect(encodeFrame(make()).toString('hex')).toBe(REF[name.split(' ')[0]!]!.toLowerCase());
  });
});

describe('S/5 frame decoder', () => {
  const all = ['V-GE-1', 'V-GE-2', 'V-GE-3', 'V-GE-4', 'V-GE-5'].map((k) => [k, hex(REF[k]!)] as const);

  it.each(all)('%s: one record, its r_len equal to its length, whatever the split', (_k, wire) => {
    const [rec] = records(wire);
    expect(rec!.readUInt16LE(0)).toBe(rec!.length);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new FrameDecoder();
      const a = d.push(wire.subarray(0, cut));
      const b = d.push(wire.subarray(cut));
      expect([...a.frames, ...b.frames]).toEqual([rec]);
      expect([...a.rejects, ...b.rejects]).toEqual([]);
    }
  });

  it('V-GE-5 stuffs both flag bytes: 7D 5E and 7D 5D unstuff to 7E and 7D', () => {
    const [rec] = records(hex(REF['V-GE-5']!));
    expect(rec!.length).toBe(318);
    expect(rec!.readUInt32LE(6)).toBe(0x677d7e00);
  });

  it('a checksum that needs stuffing (7D 5D / 7D 5E right before the closing flag)', () => {
    for (const want of [0x7d, 0x7e]) {
      const r = displRequest(5, 0, 9);
      r[45] = (want - checksum(r) + r[45]!) & 0xff; // reserved byte adjusts the sum
      expect(checksum(r)).toBe(want);
      const w = encodeFrame(r);
      expect(w.subarray(-3).toString('hex')).toBe(want === 0x7d ? '7d5d7e' : '7d5e7e');
      expect(records(w)).toEqual([r]);
    }
  });

  it('rejects a bad checksum, a wrong r_len, a bad escape and garbage, one reason each, and takes the next frame', () => {
    const good = hex(REF['V-GE-1']!);
    const badSum = Buffer.from(good);
    badSum[44] = badSum[44]! ^ 0x01;
    const wrongLen = encodeFrame(Buffer.concat([displRequest(5, 0, 9), Buffer.from([0])]));
    const badEsc = Buffer.concat([good.subarray(0, 10), hex('7D 41'), good.subarray(10)]);
    const r = new FrameDecoder().push(Buffer.concat([badSum, wrongLen, badEsc, hex('7E 01 02 03 7E'), good]));
    expect(r.rejects).toEqual(['ge_bad_checksum', 'ge_bad_length', 'ge_bad_escape', 'ge_short_frame']);
    expect(r.frames).toHaveLength(1);
  });

  it('a frame with no closing flag is dropped at MAX_FRAME and memory does not grow', () => {
    const d = new FrameDecoder();
    const r = d.push(Buffer.concat([hex('7E'), Buffer.alloc(100_000, 0x11), hex('7E')]));
    expect(r.rejects).toEqual(['ge_too_long']);
    expect(d.push(hex(REF['V-GE-1']!)).frames).toHaveLength(1);
  });
});

describe('S/5 records', () => {
  it('V-GE-5 decodes to HR 72, NIBP 120/80 (93), T1 37.00, SpO2 98 / PR 72, etCO2 38.0 mmHg, RR 14', () => {
    const [rec] = records(hex(REF['V-GE-5']!));
    const r = decodeRecord(rec!);
    if (typeof r === 'string') throw new Error(r);
    expect(r.maintype).toBe(0);
    expect(r.subrecords.map((s) => [s.type, s.data.length])).toEqual([[1, 278]]);
    const p = decodePhysiological(r.subrecords[0]!.data);
    if (typeof p === 'string') throw new Error(p);
    expect(p.time).toBe(Date.UTC(2025, 0, 7, 19, 18, 24));
    expect(p.values.map((v) => [v.metric, v.value, v.unit])).toEqual([
      ['heart_rate', 72, '/min'],
      ['nibp_sys', 120, 'mm[Hg]'],
      ['nibp_dia', 80, 'mm[Hg]'],
      ['nibp_mean', 93, 'mm[Hg]'],
      ['body_temp', 37, 'Cel'],
      ['spo2', 98, '%'],
      ['pulse_rate_oximeter', 72, '/min'],
      ['etco2', 38, 'mm[Hg]'],
      ['resp_rate', 14, '/min'],
    ]);
  });

  it.each([
    [-32767, 'invalid'],
    [-32766, 'not_updated'],
    [-32765, 'discontinuity'],
    [-32764, 'under_range'],
    [-32763, 'over_range'],
    [-32762, 'not_calibrated'],
    [-32001, 'marker'],
  ])('marker %i is no value (%s); -32000 is a value', (marker, reason) => {
    const sr = Buffer.alloc(278);
    sr.writeUInt32LE(3, 4 + 0); // ECG group exists
    sr.writeInt16LE(marker, 4 + 6);
    const p = decodePhysiological(sr);
    if (typeof p === 'string') throw new Error(p);
    expect(p.values).toEqual([]);
    expect(p.markers).toEqual([reason]);
    sr.writeInt16LE(-32000, 4 + 6);
    expect((decodePhysiological(sr) as { values: unknown[] }).values).toEqual([{ metric: 'heart_rate', value: -32000, unit: '/min' }]);
  });

  it('invasive pressures are read only at arterial sites (label 1 ART, 8 ABP)', () => {
    const sr = Buffer.alloc(278);
    for (const [g, site] of [
      [16, 1],
      [30, 2],
      [44, 8],
    ] as const) {
      sr.writeUInt32LE(3, 4 + g);
      sr.writeUInt16LE(site, 4 + g + 4);
      sr.writeInt16LE(12000 + g, 4 + g + 6);
      sr.writeInt16LE(8000, 4 + g + 8);
      sr.writeInt16LE(9300, 4 + g + 10);
    }
    const p = decodePhysiological(sr) as { values: { metric: string; value: number; channel?: string }[] };
    expect(p.values.filter((v) => v.metric === 'abp_sys').map((v) => [v.channel, v.value])).toEqual([
      ['P1', 120.16],
      ['P3', 120.44],
    ]);
  });

  it('alarm message: colours map to boxes; empty boxes are skipped', () => {
    const sr = Buffer.alloc(510);
    sr.write('HR HIGH', 10, 'latin1');
    sr.writeUInt16LE(3, 10 + 82);
    sr.write('LEADS OFF', 10 + 98, 'latin1');
    sr.writeUInt16LE(1, 10 + 98 + 82);
    expect(decodeAlarmMessage(sr)).toEqual([
      { text: 'HR HIGH', color: 3 },
      { text: 'LEADS OFF', color: 1 },
    ]);
  });

  it('the session asks for displayed values and alarms on open, and stops both on close', () => {
    const s: Session = new GeS5Session({ pollIntervalMs: 5000 });
    expect(s.open(0).writes).toEqual([encodeFrame(displRequest(5)), encodeFrame(alarmRequest(2))]);
    const out = s.data(hex(REF['V-GE-5']!), 0);
    expect(out.frames).toBe(1);
    expect(out.readings.map((r) => r.metric)).toContain('etco2');
    expect(s.close!()).toEqual([encodeFrame(displRequest(0)), encodeFrame(alarmRequest(3))]);
  });
});

describe('S/5 records with several subrecords', () => {
  it('each subrecord runs to the next offset, whatever order the descriptor list gives', () => {
    const basic = decodeRecord(records(hex(REF['V-GE-5']!))[0]!) as { subrecords: { data: Buffer }[] };
    const sr = basic.subrecords[0]!.data;
    const ext1 = Buffer.alloc(278);
    ext1.writeUInt16LE(0x0100, 276); // class 1
    const rec = Buffer.concat([Buffer.alloc(40), ext1, sr]);
    rec.writeUInt16LE(rec.length, 0);
    // descriptors out of order: basic (type 1) at 278 first, ext1 (type 1) at 0 second
    rec.writeInt16LE(278, 16);
    rec[18] = 1;
    rec.writeInt16LE(0, 19);
    rec[21] = 1;
    rec[24] = 0xff;
    const r = decodeRecord(rec);
    if (typeof r === 'string') throw new Error(r);
    expect(r.subrecords.map((s) => s.data.length)).toEqual([278, 278]);
    const classes = r.subrecords.map((s) => (decodePhysiological(s.data) as { cls: number }).cls);
    expect(classes).toEqual([0, 1]);
    expect((decodePhysiological(r.subrecords[0]!.data) as { values: unknown[] }).values).toHaveLength(9);
  });
});
