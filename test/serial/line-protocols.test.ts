/** Masimo ASCII 1, Nonin #2/#8 and the generic line protocol: table tests from the reference's vectors (§5.1, §5.3, §7). */
import { describe, expect, it } from 'vitest';
import { PROTOCOLS } from '../../src/devices/serial/protocols/index.js';
import { parseLine, wg1Checksum } from '../../src/devices/serial/protocols/line/decode.js';
import { LineSplitter } from '../../src/devices/serial/protocols/lines.js';
import { parseMasimoLine } from '../../src/devices/serial/protocols/masimo/decode.js';
import { Format2Decoder, Format8Decoder } from '../../src/devices/serial/protocols/nonin/decode.js';
import { hex } from './vectors.js';

const local = (y: number, mo: number, d: number, h: number, mi: number, s: number): number => new Date(y, mo - 1, d, h, mi, s).getTime();

describe('Masimo ASCII 1 lines', () => {
  it.each([
    [
      'V-MA-1',
      '01/07/25 19:18:24 SN=0000012345 SPO2=098% BPM=072 PI=02.35% SPCO=00.9% SPMET=00.6% DESAT=00 PIDELTA=+00 PVI=014 ALARM=0000 EXC=000800',
      { deviceTime: local(2025, 1, 7, 19, 18, 24), spo2: 98, bpm: 72, pi: 2.35, alarm: 0, exc: 0x800 },
    ],
    [
      'V-MA-2',
      '01/07/25 19:18:26 SN=0000012345 SPO2=---% BPM=--- PI=--.--% SPCO=--.-% SPMET=--.-% DESAT=-- PIDELTA=+-- PVI=--- ALARM=0012 EXC=000820',
      { deviceTime: local(2025, 1, 7, 19, 18, 26), alarm: 0x12, exc: 0x820 },
    ],
    [
      'V-MA-3 (Radical-5)',
      '09/15/10 15:10:29 SPO2=097% BPM=064 PI=11.82% ALARM=20 EXC=800',
      { deviceTime: local(2010, 9, 15, 15, 10, 29), spo2: 97, bpm: 64, pi: 11.82, alarm: 0x20, exc: 0x800 },
    ],
    [
      'newer layout: PI without %, 7-digit EXC, EXC1, space sign',
      '01/07/25 19:18:24 SN=0000012345 SPO2=098% BPM=072 PI=00.55 PIDELTA= 05 ALARM=000000 EXC=0000800 EXC1=00000000',
      { deviceTime: local(2025, 1, 7, 19, 18, 24), spo2: 98, bpm: 72, pi: 0.55, alarm: 0, exc: 0x800 },
    ],
  ])('%s', (_n, line, want) => {
    expect(parseMasimoLine(line)).toEqual({ ok: true, line: want });
  });

  it.each([
    ['', 'masimo_bad_time'],
    ['garbage', 'masimo_bad_time'],
    ['13/07/25 19:18:24 SPO2=098% BPM=072', 'masimo_bad_time'],
    ['01/07/25 19:18:24 PI=02.35%', 'masimo_missing_field'],
    ['01/07/25 19:18:24 SPO2=9x8% BPM=072', 'masimo_bad_value'],
    ['01/07/25 19:18:24 SPO2=NaN% BPM=072', 'masimo_bad_value'],
    ['01/07/25 19:18:24 SPO2=098% BPM=072 ALARM=zz', 'masimo_bad_flags'],
    ['01/07/25 19:18:24 SPO2=098% =5 BPM=072', 'masimo_bad_token'],
  ])('%j is rejected as %s', (line, reason) => {
    expect(parseMasimoLine(line)).toEqual({ ok: false, reason });
  });

  it('the session turns alarm and exception bits into edges', () => {
    const s = PROTOCOLS.masimo.createSession({ pollIntervalMs: 1000 });
    s.open(0);
    const l = (alarm: string, exc: string, spo2 = '088'): Buffer => Buffer.from(`01/07/25 19:18:24 SPO2=${spo2}% BPM=072 ALARM=${alarm} EXC=${exc}\r\n`);
    const a = s.data(l('0012', '000800'), 0).readings;
    expect(a.map((r) => [r.priorityClass ?? 'vital', r.metric, r.extra?.alarm, r.extra?.state])).toEqual([
      ['vital', 'spo2', undefined, undefined],
      ['vital', 'pulse_rate_oximeter', undefined, undefined],
      ['alarm', 'spo2', 'SPO2_LOW', 'on'],
    ]);
    expect(s.data(l('0012', '000800'), 0).readings.filter((r) => r.priorityClass === 'alarm')).toEqual([]);
    const b = s.data(l('0000', '000820', '---'), 0).readings.filter((r) => r.priorityClass !== undefined);
    expect(b.map((r) => [r.priorityClass, r.extra?.alarm ?? r.extra?.code, r.extra?.state])).toEqual([
      ['alarm', 'SPO2_LOW', 'off'],
      ['status', 'SENSOR_OFF', 'on'],
    ]);
  });
});

describe('Nonin', () => {
  it('V-NO-3 format #8: HR 72/SpO2 98, HR 300/SpO2 95, sensor off with missing values', () => {
    const r = new Format8Decoder().push(hex('80 48 62 00 82 2C 5F 00 C3 7F 7F 00'));
    expect(r.rejects).toEqual([]);
    expect(r.values).toEqual([
      { hr: 72, spo2: 98, sensorOff: false, questionable: false },
      { hr: 300, spo2: 95, sensorOff: false, questionable: false },
      { sensorOff: true, questionable: false },
    ]);
  });

  it('V-NO-1 format #2: HR 72, SpO2 98 from the first three frames of a packet, split at every byte', () => {
    const w = hex('01 83 40 00 C4 01 82 41 48 0C 01 82 42 62 27');
    for (let cut = 0; cut <= w.length; cut++) {
      const d = new Format2Decoder();
      const r1 = d.push(w.subarray(0, cut));
      const r2 = d.push(w.subarray(cut));
      expect([...r1.values, ...r2.values]).toEqual([{ hr: 72, spo2: 98, sensorOff: false, questionable: false }]);
      expect([...r1.rejects, ...r2.rejects]).toEqual([]);
    }
  });

  it('format #2: a bad checksum is one resync, and the next packet still decodes', () => {
    const good = hex('01 83 40 00 C4 01 82 41 48 0C 01 82 42 62 27');
    const bad = Buffer.from(good);
    bad[9] = 0x0d;
    const r = new Format2Decoder().push(Buffer.concat([bad, good]));
    expect(r.rejects).toEqual(['nonin_resync']);
    expect(r.values).toEqual([{ hr: 72, spo2: 98, sensorOff: false, questionable: false }]);
  });

  it('format #8 resynchronises after garbage: one reject per run', () => {
    const r = new Format8Decoder().push(hex('01 02 03 80 48 62 00 11 80 48 62 00'));
    expect(r.rejects).toEqual(['nonin_resync', 'nonin_resync']);
    expect(r.values.map((v) => v.hr)).toEqual([72, 72]);
  });
});

describe('generic line protocol', () => {
  const wg = { format: 'wg1' as const };
  it.each([
    [
      '$WG1,bed12-oxi,2025-01-07T19:18:24Z,SPO2=98,PR=72,PI=2.35,ST=0*54',
      {
        ok: true,
        kind: 'values',
        device: 'bed12-oxi',
        time: Date.UTC(2025, 0, 7, 19, 18, 24),
        values: [
          { metric: 'spo2', value: 98, unit: '%' },
          { metric: 'pulse_rate_oximeter', value: 72, unit: '/min' },
          { metric: 'perfusion_index', value: 2.35, unit: '%' },
        ],
        status: '0',
      },
    ],
    [
      '$WG1,bed12-oxi,2025-01-07T19:18:25Z,SPO2=-,PR=-,ST=SENSOR_OFF*75',
      { ok: true, kind: 'values', device: 'bed12-oxi', time: Date.UTC(2025, 0, 7, 19, 18, 25), values: [], status: 'SENSOR_OFF' },
    ],
    [
      '$WGA,bed12-oxi,2025-01-07T19:18:30Z,SPO2_LOW,HI,ON*34',
      { ok: true, kind: 'alarm', device: 'bed12-oxi', time: Date.UTC(2025, 0, 7, 19, 18, 30), code: 'SPO2_LOW', priority: 'high', on: true },
    ],
  ])('%s (reference §7 vector)', (line, want) => {
    expect(parseLine(line, wg)).toEqual(want);
  });

  it.each([
    ['$WG1,bed12-oxi,2025-01-07T19:18:24Z,SPO2=98,PR=72,PI=2.35,ST=0*55', 'line_bad_checksum'],
    ['WG1,bed12-oxi,2025-01-07T19:18:24Z,SPO2=98*00', 'line_bad_frame'],
    ['$WG1,x,2025-01-07T19:18:24Z,SPO2=NaN*', 'line_bad_frame'],
  ])('%s is rejected as %s', (line, reason) => {
    expect(parseLine(line, wg)).toEqual({ ok: false, reason });
  });

  it('checksummed lines with bad values or bad times are rejected by reason; an unknown key is counted and the rest kept', () => {
    const sign = (body: string): string => `$${body}*${wg1Checksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
    expect(parseLine(sign('WG1,d,2025-01-07T19:18:24Z,SPO2=NaN'), wg)).toEqual({ ok: false, reason: 'line_bad_value' });
    expect(parseLine(sign('WG1,d,2025-01-07T19:18:24Z,SPO2=Infinity'), wg)).toEqual({ ok: false, reason: 'line_bad_value' });
    expect(parseLine(sign('WG1,d,2025-01-07T19:18:24Z,FOO=1,SPO2=97'), wg)).toEqual({
      ok: true,
      kind: 'values',
      device: 'd',
      time: Date.UTC(2025, 0, 7, 19, 18, 24),
      values: [{ metric: 'spo2', value: 97, unit: '%' }],
      unknown: ['FOO'],
    });
    const s = PROTOCOLS.line.createSession({ pollIntervalMs: 1000, options: { format: 'wg1' } });
    const out = s.data(Buffer.from(`${sign('WG1,d,2025-01-07T19:18:24Z,FOO=1,SPO2=97')}\r\n`), 0);
    expect({ rejects: out.rejects, metrics: out.readings.map((r) => r.metric) }).toEqual({ rejects: ['line_unknown_key'], metrics: ['spo2'] });
    expect(parseLine(sign('WG1,d,yesterday,SPO2=97'), wg)).toEqual({ ok: false, reason: 'line_bad_time' });
    expect(parseLine(sign('WGA,d,2025-01-07T19:18:24Z,SPO2_LOW,XX,ON'), wg)).toEqual({ ok: false, reason: 'line_bad_alarm' });
  });

  it('kv and delimited formats map configured fields, with scale', () => {
    expect(
      parseLine('hr=61 spo2=97 x=1', { format: 'kv', fields: { hr: { metric: 'heart_rate', unit: '/min' }, spo2: { metric: 'spo2', unit: '%' } } }),
    ).toEqual({
      ok: true,
      kind: 'values',
      values: [
        { metric: 'heart_rate', value: 61, unit: '/min' },
        { metric: 'spo2', value: 97, unit: '%' },
      ],
    });
    expect(parseLine('12;3690;x', { format: 'delimited', separator: ';', fields: [null, { metric: 'body_temp', unit: 'Cel', scale: 0.01 }] })).toEqual({
      ok: true,
      kind: 'values',
      values: [{ metric: 'body_temp', value: 36.9, unit: 'Cel' }],
    });
    expect(parseLine('12', { format: 'delimited', fields: [null, { metric: 'spo2' }] })).toEqual({ ok: false, reason: 'line_missing_field' });
  });
});

describe('line splitter', () => {
  it('splits on LF, strips CR, keeps partial lines across chunks', () => {
    const s = new LineSplitter(64);
    expect(s.push(Buffer.from('ab\r\ncd'))).toEqual({ lines: ['ab'], tooLong: 0 });
    expect(s.push(Buffer.from('ef\n\n'))).toEqual({ lines: ['cdef', ''], tooLong: 0 });
  });

  it('a line over the limit is dropped whole and counted once, however it is split', () => {
    const s = new LineSplitter(8);
    let tooLong = 0;
    const lines: string[] = [];
    for (const c of ['0123', '4567', '89ab', 'cd\nok\n']) {
      const r = s.push(Buffer.from(c));
      tooLong += r.tooLong;
      lines.push(...r.lines);
    }
    expect({ lines, tooLong }).toEqual({ lines: ['ok'], tooLong: 1 });
  });
});

describe('Nonin format recognition (auto, the default)', () => {
  const f2 = hex('01 83 40 00 C4 01 82 41 48 0C 01 82 42 62 27');
  const f8 = hex('80 48 62 00');
  it('recognises format 2 from two checksummed frames, then decodes its packets', () => {
    const s = PROTOCOLS.nonin.createSession({ pollIntervalMs: 1000 });
    const out = [f2, f2, f2].map((c) => s.data(c, 0));
    expect(s.phase).toBe('format 2');
    // the packet read while recognising is sent too
    expect(out.flatMap((o) => o.readings).map((r) => [r.metric, r.value])).toEqual(
      Array.from({ length: 3 }, () => [
        ['spo2', 98],
        ['pulse_rate_oximeter', 72],
      ]).flat(),
    );
    expect(out.flatMap((o) => o.rejects)).toEqual([]);
  });

  it('recognises format 8 after three frames with no format 2 frame, then decodes', () => {
    const s = PROTOCOLS.nonin.createSession({ pollIntervalMs: 1000 });
    for (let i = 0; i < 2; i++) expect(s.data(f8, 0).readings).toEqual([]);
    expect(s.data(f8, 0).readings).toHaveLength(6); // the three frames read while recognising
    expect(s.phase).toBe('format 8');
    expect(s.data(f8, 0).readings.map((r) => [r.metric, r.value])).toEqual([
      ['spo2', 98],
      ['pulse_rate_oximeter', 72],
    ]);
  });

  it('a configured format is used from the first frame', () => {
    const s = PROTOCOLS.nonin.createSession({ pollIntervalMs: 1000, options: { format: 8 } });
    expect(s.data(f8, 0).readings).toHaveLength(2);
  });
});
