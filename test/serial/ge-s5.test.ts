/** GE S/5 framing, requests and record decoding against the reference's byte vectors (§3.8). */
import { describe, expect, it } from 'vitest';
import { basicClass, driRecord, ext1Class, FrameReader, frame, physSubrecord } from '../../hardware-mocks/serial/ge-wire.js';
import { decodeAlarmMessage, decodePhysiological, decodeRecord } from '../../src/devices/serial/protocols/ge-s5/decode.js';
import { checksum, encodeFrame, FrameDecoder } from '../../src/devices/serial/protocols/ge-s5/frame.js';
import { alarmRequest, displRequest, PHDB_TYPE, phdbRequest, waveRequest } from '../../src/devices/serial/protocols/ge-s5/request.js';
import { GeS5Session } from '../../src/devices/serial/protocols/ge-s5/session.js';
import type { Session } from '../../src/devices/serial/protocols/types.js';
import { normalise } from '../../src/reading.js';
import { hex, REF } from './vectors.js';

/**
 * The six complete examples of the S/5 Computer Interface Specification (GE doc M1017617, 12th ed.,
 * Appendix A, pages A-1..A-6), copied from the PDF (correction 16 of the reference: "use them as test
 * vectors"; the reference itself does not print them). They use interface level 0. A-3's checksum
 * 0x7D is stuffed as 7D 5D.
 */
const GE_CI: [string, string, () => Buffer][] = [
  [
    'A-1 DISPL every 10 s, classes basic+ext1+ext2+ext3',
    '7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 ' +
      '00 00 00 00 00 00 00 00 00 01 0a 00 0e 00 00 00 00 00 49 7e',
    () => displRequest(10, 0x0e, 0),
  ],
  [
    'A-2 stop DISPL',
    '7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 ' +
      '00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 00 31 7e',
    () => displRequest(0, 0, 0),
  ],
  [
    'A-3 60 s trend every 60 s, all classes (checksum 7D stuffed)',
    '7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 ' +
      '00 00 00 00 00 00 00 00 00 03 3c 00 0e 00 00 00 00 00 7d 5d 7e',
    () => phdbRequest(PHDB_TYPE.trend60s, 60, 0x0e, 0),
  ],
  [
    'A-4 stop 60 s trend',
    '7e 31 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 ' +
      '00 00 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 33 7e',
    () => phdbRequest(PHDB_TYPE.trend60s, 0, 0, 0),
  ],
  [
    'A-5 start ECG1 waveform',
    '7e 48 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 ff 00 ' +
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 48 7e',
    () => waveRequest(0, [1]),
  ],
  [
    'A-6 stop waveforms',
    '7e 48 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 00 00 00 ff 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00 ff 00 00 ' +
      '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 48 7e',
    () => waveRequest(1, []),
  ],
];

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
    ['V-GE-4 start CO2 waveform (type 9)', () => waveRequest(0, [9])],
  ])('%s', (name, make) => {
    expect(encodeFrame(make()).toString('hex')).toBe(REF[name.split(' ')[0]!]!.toLowerCase());
  });

  it.each(GE_CI)('GE-CI %s', (_name, bytes, make) => {
    expect(encodeFrame(make()).toString('hex')).toBe(hex(bytes).toString('hex'));
  });
});

describe('the S/5 simulator frames byte-exactly too (hardware-mocks, its own framing)', () => {
  const vectors = [
    ...['V-GE-1', 'V-GE-2', 'V-GE-3', 'V-GE-4', 'V-GE-5'].map((k) => [k, hex(REF[k]!)] as const),
    ...GE_CI.map(([n, b]) => [n, hex(b)] as const),
  ];

  it.each(vectors)('%s: the simulator reads the record and frames it back to the same bytes', (_n, wire) => {
    const r = new FrameReader();
    const recs = r.feed(wire);
    expect(r.bad).toBe(0);
    expect(recs).toHaveLength(1);
    expect(frame(recs[0]!).toString('hex')).toBe(wire.toString('hex'));
    expect(recs).toEqual(records(wire));
  });

  it('V-GE-5 from the simulator builders: the same 325 bytes (values scaled, other values -32767, headers 0)', () => {
    const t = 0x677d7e00;
    const c = basicClass({
      ecg: { values: { hr: 72 } },
      nibp: { values: { sys: 120, dia: 80, mean: 93 } },
      t1: { values: { temp: 37 } },
      spo2: { values: { spo2: 98, pr: 72, ir_amp: 2.5 } },
      co2: { values: { et: 5, fi: 0, rr: 14, amb_press: 760 } },
    });
    const wire = frame(driRecord(0, t, 9, [{ type: 1, data: physSubrecord(t, 0, c) }]));
    expect(wire.length).toBe(325);
    expect(wire.toString('hex')).toBe(REF['V-GE-5']!.toLowerCase());
  });
});

/**
 * Each basic-class value the gateway reads (§3.5), from literal little-endian bytes at its offset in
 * the 270-byte class data: [what, group header offset, group label, value offset, bytes, metric, value, unit].
 * Raw values are chosen so that reading them big-endian gives another number.
 */
const FIELDS: [string, number, number, number, string, string, number, string][] = [
  ['ECG hr 1/min', 0, 0, 6, '02 01', 'heart_rate', 258, '/min'],
  ['P1 ART sys 1/100 mmHg', 16, 1, 22, 'E1 2E', 'abp_sys', 120.01, 'mm[Hg]'],
  ['P1 ART dia', 16, 1, 24, '41 1F', 'abp_dia', 80.01, 'mm[Hg]'],
  ['P1 ART mean', 16, 1, 26, '55 24', 'abp_mean', 93.01, 'mm[Hg]'],
  ['P2 CVP mean (negative)', 30, 2, 40, '06 FF', 'cvp', -2.5, 'mm[Hg]'],
  ['P3 PA sys', 44, 3, 50, 'C4 09', 'pa_sys', 25, 'mm[Hg]'],
  ['P3 PA dia', 44, 3, 52, '21 03', 'pa_dia', 8.01, 'mm[Hg]'],
  ['P3 PA mean', 44, 3, 54, '41 06', 'pa_mean', 16.01, 'mm[Hg]'],
  ['P4 ICP mean', 58, 7, 68, '7E 04', 'icp', 11.5, 'mm[Hg]'],
  ['P4 ABP sys (label 8)', 58, 8, 64, '01 30', 'abp_sys', 122.89, 'mm[Hg]'],
  ['P5 ART mean', 240, 1, 250, '10 27', 'abp_mean', 100, 'mm[Hg]'],
  ['P6 CVP mean', 254, 2, 264, '7D 03', 'cvp', 8.93, 'mm[Hg]'],
  ['NIBP sys', 72, 0, 78, '01 2F', 'nibp_sys', 120.33, 'mm[Hg]'],
  ['NIBP dia', 72, 0, 80, '41 1F', 'nibp_dia', 80.01, 'mm[Hg]'],
  ['NIBP mean', 72, 0, 82, '55 24', 'nibp_mean', 93.01, 'mm[Hg]'],
  ['T1 1/100 degC', 86, 0, 92, '74 0E', 'body_temp', 37, 'Cel'],
  ['T2', 94, 0, 100, '75 0E', 'body_temp', 37.01, 'Cel'],
  ['T3', 102, 0, 108, '10 0E', 'body_temp', 36, 'Cel'],
  ['T4', 110, 0, 116, '11 0E', 'body_temp', 36.01, 'Cel'],
  ['SpO2 1/100 %', 118, 0, 124, '49 26', 'spo2', 98.01, '%'],
  ['SpO2 pr 1/min', 118, 0, 126, '01 01', 'pulse_rate_oximeter', 257, '/min'],
  ['CO2 rr 1/min', 132, 0, 142, '0E 00', 'resp_rate', 14, '/min'],
  ['flow_vol ppeak 1/100 cmH2O', 178, 0, 186, 'D1 07', 'airway_pressure_peak', 20.01, 'cm[H2O]'],
  ['flow_vol peep 1/100 cmH2O', 178, 0, 188, 'F5 01', 'peep', 5.01, 'cm[H2O]'],
  ['flow_vol tv_insp 1/10 mL', 178, 0, 192, '89 13', 'tidal_volume', 500.1, 'mL'],
];

describe('S/5 basic class: each parameter at its offset, little-endian, with its scale', () => {
  it.each(FIELDS)('%s', (_what, group, label, at, bytes, metric, value, unit) => {
    const sr = Buffer.alloc(278);
    const c = sr.subarray(4, 274);
    for (let o = 0; o < 268; o += 2) c.writeInt16LE(-32767, o);
    for (const g of [0, 16, 30, 44, 58, 72, 86, 94, 102, 110, 118, 132, 146, 156, 166, 178, 200, 214, 232, 240, 254]) c.fill(0, g, g + 6);
    c.writeUInt32LE(3, group);
    c.writeUInt16LE(label, group + 4);
    hex(bytes).copy(c, at);
    const p = decodePhysiological(sr);
    if (typeof p === 'string') throw new Error(p);
    // The group's other fields are -32767: readings with no number.
    expect(p.values.filter((v) => !v.absent).map((v) => [v.metric, v.value, v.unit])).toEqual([[metric, value, unit]]);
    expect(p.values.filter((v) => v.absent).every((v) => Number.isNaN(v.value) && v.absent!.marker === -32767)).toBe(true);
  });

  it('etCO2 = et (1/100 %) x ambient pressure (1/10 mmHg) / 100 000: 5.01 % at 743.9 mmHg is 37.27 mmHg', () => {
    const sr = Buffer.alloc(278);
    const c = sr.subarray(4, 274);
    c.writeUInt32LE(3, 132);
    hex('F5 01').copy(c, 138); // et 501
    hex('0F 1D').copy(c, 144); // amb 7439 -> 743.9 mmHg
    hex('01 80').copy(c, 142); // rr invalid
    const p = decodePhysiological(sr) as { values: { metric: string; value: number }[] };
    expect(p.values.map((v) => [v.metric, v.value])).toEqual([
      ['etco2', Math.round((501 * 7439) / 1000) / 100],
      ['resp_rate', NaN],
    ]);
    expect(p.values[0]!.value).toBe(37.27);
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
    [-32767, 'invalid', 'value_nan'],
    [-32766, 'not_updated', 'value_nan'],
    [-32765, 'discontinuity', 'value_nan'],
    [-32764, 'under_range', 'value_negative_infinity'],
    [-32763, 'over_range', 'value_positive_infinity'],
    [-32762, 'not_calibrated', 'value_nan'],
    [-32001, 'marker', 'value_reserved'],
    [-32768, 'marker', 'value_reserved'],
  ] as const)('marker %i (%s) in an active group is a reading with no number and %s; -32000 is a value', (marker, reason, flag) => {
    const sr = Buffer.alloc(278);
    sr.writeUInt32LE(3, 4 + 0); // ECG group exists (bit 0) and is active (bit 1)
    sr.writeInt16LE(marker, 4 + 6);
    const p = decodePhysiological(sr);
    if (typeof p === 'string') throw new Error(p);
    expect(p.values).toEqual([{ metric: 'heart_rate', value: NaN, unit: '/min', absent: { flag, reason, marker } }]);
    // Through the session: the reading the adapter gets, and the pipeline's normalise takes it (NaN with one flag).
    const s: Session = new GeS5Session({ pollIntervalMs: 5000 });
    s.open(0);
    const rec = Buffer.concat([Buffer.alloc(40), sr]);
    rec.writeUInt16LE(rec.length, 0);
    rec[18] = 1; // sr_desc[0] = offset 0, type 1 (displayed values)
    rec[21] = 0xff;
    const out = s.data(encodeFrame(rec), 0);
    expect(out.readings).toEqual([{ metric: 'heart_rate', value: NaN, unit: '/min', deviceTime: 0, quality: [flag], extra: { reason, marker } }]);
    const n = normalise({ ...out.readings[0]!, deviceId: 'ge-1', deviceKind: 'serial', bed: 'B1' }, { now: 0, clockSkewToleranceMs: 1e12 });
    expect([n.value, n.quality.filter((q) => q.startsWith('value_'))]).toEqual([NaN, [flag]]);
    sr.writeInt16LE(-32000, 4 + 6);
    expect((decodePhysiological(sr) as { values: unknown[] }).values).toEqual([{ metric: 'heart_rate', value: -32000, unit: '/min' }]);
  });

  it.each([
    ['no module (status 0)', 0, []],
    ['module, measurement not active (status 1): not connected', 1, []],
    ['active but not existing (status 2)', 2, []],
    [
      'exists and active (status 3)',
      3,
      [
        ['spo2', 'value_nan'],
        ['pulse_rate_oximeter', 'value_nan'],
      ],
    ],
    [
      'status 3 with group-specific bits',
      0xfffffff3,
      [
        ['spo2', 'value_nan'],
        ['pulse_rate_oximeter', 'value_nan'],
      ],
    ],
  ] as const)('SpO2 group with invalid values, %s', (_what, status, want) => {
    const sr = Buffer.alloc(278);
    sr.writeUInt32LE(status, 4 + 118);
    hex('01 80 01 80').copy(sr, 4 + 124);
    const p = decodePhysiological(sr) as { values: { metric: string; absent?: { flag: string } }[] };
    expect(p.values.map((v) => [v.metric, v.absent?.flag])).toEqual(want);
  });

  it('a number in an existing group that is not active is still a reading; a group that does not exist gives none', () => {
    const sr = Buffer.alloc(278);
    sr.writeUInt32LE(1, 4 + 86); // T1: exists, not active
    hex('74 0E').copy(sr, 4 + 92);
    sr.writeUInt32LE(2, 4 + 94); // T2: "active" without "exists"
    hex('74 0E').copy(sr, 4 + 100);
    const p = decodePhysiological(sr) as { values: unknown[] };
    expect(p.values).toEqual([{ metric: 'body_temp', value: 37, unit: 'Cel', channel: 'T1' }]);
  });

  it.each([
    ['et invalid', '01 80', 'B0 1D', 'invalid', -32767],
    ['ambient pressure over range', 'F4 01', '05 80', 'over_range', -32763],
  ])('etCO2 needs et and the ambient pressure: %s gives etco2 with no number and that marker', (_w, et, amb, reason, marker) => {
    const sr = Buffer.alloc(278);
    sr.writeUInt32LE(3, 4 + 132);
    hex(et).copy(sr, 4 + 138);
    hex(amb).copy(sr, 4 + 144);
    hex('0E 00').copy(sr, 4 + 142);
    const p = decodePhysiological(sr) as { values: { metric: string; value: number; absent?: { reason: string; marker: number } }[] };
    expect(p.values.map((v) => [v.metric, v.value, v.absent?.reason, v.absent?.marker])).toEqual([
      ['etco2', NaN, reason, marker],
      ['resp_rate', 14, undefined, undefined],
    ]);
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
    expect(s.open(0).writes).toEqual([encodeFrame(displRequest(5, 0x0002)), encodeFrame(alarmRequest(2))]);
    // DISPL every 5 s, level 9, phdb_class_bf 0x00000002 (basic + ext1), checksum 0x31 + 0xFF + 9 + 1 + 5 + 2
    expect(s.open(0).writes[0]!.toString('hex')).toBe(
      hex(
        '7E 31 00 00 09 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 FF 00 00 00 00 00 00 00 00 00 ' +
          '00 00 00 00 00 00 00 00 00 01 05 00 02 00 00 00 00 00 41 7E',
      ).toString('hex'),
    );
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

/**
 * ext1 class (GE-DRI 8005313 §3.6; the reference leaves ext1 to that document): [what, group header offset,
 * label, value offset, bytes, metric, value, unit, channel], offsets in the 270-byte class data.
 */
const EXT1_FIELDS: [string, number, number, number, string, string, number, string, string | undefined][] = [
  ['arrh_ecg rr_time ms', 0, 0, 8, '59 03', 'rr_interval', 0.857, 's', undefined],
  ['P7 ICP mean', 78, 7, 88, '7E 04', 'icp', 11.5, 'mm[Hg]', 'P7'],
  ['P8 ART sys', 92, 1, 98, 'E1 2E', 'abp_sys', 120.01, 'mm[Hg]', 'P8'],
  ['P8 ART dia', 92, 1, 100, '41 1F', 'abp_dia', 80.01, 'mm[Hg]', 'P8'],
  ['SpO2 channel 2', 106, 0, 112, '49 26', 'spo2', 98.01, '%', 'SpO2-2'],
  ['SpO2 channel 2 pr', 106, 0, 114, '01 01', 'pulse_rate_oximeter', 257, '/min', 'SpO2-2'],
  ['T5', 120, 0, 126, '75 0E', 'body_temp', 37.01, 'Cel', 'T5'],
  ['T6', 128, 0, 134, '11 0E', 'body_temp', 36.01, 'Cel', 'T6'],
];

describe('S/5 ext1 class (GE-DRI layout): the groups with catalogue counterparts', () => {
  it.each(EXT1_FIELDS)('%s', (_w, group, label, at, bytes, metric, value, unit, channel) => {
    const sr = Buffer.alloc(278);
    sr.writeUInt16LE(0x0100, 276); // class 1
    const c = sr.subarray(4, 274);
    c.writeUInt32LE(3, group);
    c.writeUInt16LE(label, group + 4);
    hex(bytes).copy(c, at);
    const p = decodePhysiological(sr);
    if (typeof p === 'string') throw new Error(p);
    expect(p.cls).toBe(1);
    expect(p.values.filter((v) => !v.absent && v.value !== 0).map((v) => [v.metric, v.value, v.unit, v.channel])).toEqual([[metric, value, unit, channel]]);
  });

  it("the simulator's ext1 builder puts ICP on P7 and the R-R time where the gateway reads them; ext2/ext3 give nothing", () => {
    const e = ext1Class({ arrh_ecg: { values: { hr: 70, rr_time: 857 } }, p7: { label: 7, values: { mean: 11.5 } } });
    const p = decodePhysiological(physSubrecord(0x677d7e00, 1, e)) as { values: { metric: string; value: number }[] };
    expect(p.values.map((v) => [v.metric, v.value])).toEqual([
      ['rr_interval', 0.857],
      ['icp', 11.5],
    ]);
    for (const cls of [2, 3]) expect((decodePhysiological(physSubrecord(0, cls, e)) as { values: unknown[] }).values).toEqual([]);
  });

  it("a record with a basic and an ext1 subrecord through the session: both classes' readings, one device time", () => {
    const t = 0x677d7e00;
    const basic = basicClass({ ecg: { values: { hr: 72 } } });
    const e = ext1Class({ p7: { label: 7, values: { mean: 9 } } });
    const wire = frame(
      driRecord(0, t, 9, [
        { type: 1, data: physSubrecord(t, 0, basic) },
        { type: 1, data: physSubrecord(t, 1, e) },
      ]),
    );
    const s: Session = new GeS5Session({ pollIntervalMs: 5000 });
    s.open(0);
    const out = s.data(wire, 0);
    expect(out.rejects).toEqual([]);
    expect(out.readings.map((r) => [r.metric, r.value, r.deviceTime, r.extra?.channel])).toEqual([
      ['heart_rate', 72, t * 1000, undefined],
      ['icp', 9, t * 1000, 'P7'],
    ]);
  });
});
