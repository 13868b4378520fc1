/** IntelliVue framing, FLOAT, request builders and decoding against the reference's byte vectors (§2.10). */
import { describe, expect, it } from 'vitest';
import { IntellivueSimulator } from '../../hardware-mocks/intellivue.js';
import { CATALOGUE, type MetricId, metricByMdc, toCatalogueUnit } from '../../src/catalogue.js';
import { serialConfigSchema } from '../../src/devices/serial/config.js';
import { PHYSIO_METRIC, UNIT_UCUM } from '../../src/devices/serial/protocols/intellivue/codes.js';
import { crc16x25 } from '../../src/devices/serial/protocols/intellivue/crc.js';
import { decodeMessage, mdsTimes, numerics } from '../../src/devices/serial/protocols/intellivue/decode.js';
import { decodeFloat } from '../../src/devices/serial/protocols/intellivue/float.js';
import { encodeFrame, FrameDecoder, frameBytes } from '../../src/devices/serial/protocols/intellivue/frame.js';
import { AARQ, extendedPoll, mdsCreateResult, RELEASE_REQUEST, singlePoll } from '../../src/devices/serial/protocols/intellivue/messages.js';
import { IntellivueSession } from '../../src/devices/serial/protocols/intellivue/session.js';
import { hex, REF } from './vectors.js';

const unframe = (wire: Buffer): Buffer => {
  const r = new FrameDecoder().push(wire);
  expect(r.rejects).toEqual([]);
  expect(r.frames).toHaveLength(1);
  return r.frames[0]!;
};

describe('IntelliVue CRC-16/X-25', () => {
  it.each([
    ['123456789 (V-PH-0)', Buffer.from('123456789'), 0x906e],
    ['3A 71 (V-PH-1, wire 9B 26)', hex('3A71'), 0x269b],
    ['3A 91 (V-PH-2)', hex('3A91'), 0xc195],
  ])('%s', (_n, data, crc) => {
    expect(crc16x25(data)).toBe(crc);
  });
});

describe('IntelliVue transport (§2.2): FCS low byte first, every byte between BOF and EOF escaped', () => {
  it.each([
    ['V-PH-1', '3A71'],
    ['V-PH-2: the FCS high byte C1 escaped as 7D E1', '3A91'],
  ])('%s', (name, data) => {
    expect(frameBytes(hex(data)).toString('hex')).toBe(REF[name.slice(0, 6)]!.toLowerCase());
  });
});

describe('IntelliVue requests are byte-exact', () => {
  it('V-PH-3: extended poll of numerics, invoke id 1, poll 1, period 30 s', () => {
    expect(encodeFrame(extendedPoll({ invokeId: 1, pollNumber: 1, objCode: 6, group: 0, periodTicks: 0x0003a980 })).toString('hex')).toBe(
      REF['V-PH-3']!.toLowerCase(),
    );
  });
  it('V-PH-4: extended poll of the alert monitor, invoke id 5, poll 4, period 600 s', () => {
    expect(encodeFrame(extendedPoll({ invokeId: 5, pollNumber: 4, objCode: 0x36, group: 0x0801, periodTicks: 0x00493e00 })).toString('hex')).toBe(
      REF['V-PH-4']!.toLowerCase(),
    );
  });
  it('V-PH-5b: single poll of the MDS object (invoke id 0, poll number 1)', () => {
    expect(encodeFrame(singlePoll({ invokeId: 0, pollNumber: 1, objCode: 0x21, group: 0 })).toString('hex')).toBe(REF['V-PH-5b']!.toLowerCase());
  });

  it('V-PH-5: MDS Create Event Result echoing invoke id 1 and event time 0x000ABD00', () => {
    expect(encodeFrame(mdsCreateResult(1, 0x000abd00)).toString('hex')).toBe(REF['V-PH-5']!.toLowerCase());
  });
  it('V-PH-6: the association request, its C1 escaped as 7D E1, FCS F6 FE', () => {
    expect(AARQ.toString('hex')).toBe(REF['V-PH-6-data']!.toLowerCase());
    const wire = encodeFrame(AARQ);
    expect(wire.toString('hex')).toBe(REF['V-PH-6']!.toLowerCase());
    expect(unframe(wire)).toEqual(AARQ);
  });

  // Not reference vectors: VSCaptureMP's rlrq_msg and its ext_poll_request_msg (no period attribute), framed by an
  // independent bit-wise CRC. The second one's FCS high byte is C0: escaped as 7D E0 right before EOF.
  it.each([
    [
      'release request (SPDU 0x09, its C1 escaped)',
      () => encodeFrame(RELEASE_REQUEST),
      'C01101001A09187DE11661803080020101A080628080010000000000000000004108C1',
    ],
    [
      'extended poll of numerics without a period, invoke id 1, poll 1',
      () => encodeFrame(extendedPoll({ invokeId: 1, pollNumber: 1, objCode: 6, group: 0 })),
      'C011010028E10000020001002000010007001A00210000000000000000F13B000C0001000100060000000000004C7DE0C1',
    ],
  ])('%s', (_n, build, wire) => {
    expect(build().toString('hex')).toBe(wire.toLowerCase());
  });
});

/**
 * MDS Create Event Reports [synthetic], invoke id 1, event time 0x000ABD00, attributes absolute time 2025-01-07
 * 12:29:59 and relative time 0x00100000. First as monitors send it (MdsCreateInfo: the MDS managed object
 * 0021 0000 0000, then the attribute list; VSCaptureMP reads the list at offset 34, OpenICE's MdsCreateInfo
 * the same), then with the bare attribute list. FCS by an independent bit-wise CRC.
 */
const MDS_REPORTS = [
  [
    'managed object, then attributes',
    'C01101003AE10000020001003200010001002C002100000000000ABD000D06001E00210000000000020014098700082025010712295900098F000400100000DDF5C1',
  ],
  ['bare attribute list', 'C011010034E10000020001002C000100010026002100000000000ABD000D06001800020014098700082025010712295900098F000400100000ABD8C1'],
] as const;

describe('IntelliVue MDS Create Event Report', () => {
  it.each(MDS_REPORTS)('%s: decoded, and answered with exactly V-PH-5', (_n, wire) => {
    const d = decodeMessage(unframe(hex(wire)));
    expect(d).toEqual({
      ok: true,
      msg: { kind: 'mds_create', invokeId: 1, eventTime: 0x000abd00, command: 1, absTime: new Date(2025, 0, 7, 12, 29, 59).getTime(), relTime: 0x00100000 },
    });
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    s.data(encodeFrame(hex('0E00')), 0);
    const out = s.data(hex(wire), 0);
    expect(out.rejects).toEqual([]);
    expect(out.writes[0]!.toString('hex')).toBe(REF['V-PH-5']!.toLowerCase());
    expect(s.phase).toBe('polling');
  });

  it('an unreadable attribute list still gets its answer (no base time)', () => {
    const u = unframe(hex(MDS_REPORTS[0][1]));
    u.writeUInt16BE(0x0015, 36); // attribute list length one more than there is
    const d = decodeMessage(u);
    expect(d).toEqual({ ok: true, msg: { kind: 'mds_create', invokeId: 1, eventTime: 0x000abd00, command: 1 } });
  });
});

describe('IntelliVue release (§2.3 step 7)', () => {
  it('a release request from the monitor is answered with the release response, then the session starts again', () => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    s.data(encodeFrame(hex('0E00')), 0);
    s.data(hex(MDS_REPORTS[0][1]), 0);
    const out = s.data(hex('C01101001A09187DE11661803080020101A080628080010000000000000000004108C1'), 100);
    expect(out.writes.map((w) => w.toString('hex'))).toEqual(['c01101001a0a187de11661803080020101a080638080010000000000000000000d52c1']);
    expect(s.phase).toBe('refused');
    expect(s.tick(5100).writes).toEqual([encodeFrame(AARQ)]);
  });

  it('a clean stop sends the release request while associated, nothing before', () => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    expect(s.close()).toEqual([]);
    s.data(encodeFrame(hex('0E00')), 0);
    expect(s.close().map((w) => w.toString('hex'))).toEqual(['c01101001a09187de11661803080020101a080628080010000000000000000004108c1']);
  });
});

describe('IntelliVue frame decoder', () => {
  const vectors = ['V-PH-3', 'V-PH-4', 'V-PH-5', 'V-PH-5b', 'V-PH-7'].map((k) => [k, hex(REF[k]!)] as const);

  it.each(vectors)('%s decodes the same when split at every byte boundary', (_k, wire) => {
    const whole = unframe(wire);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new FrameDecoder();
      const a = d.push(wire.subarray(0, cut));
      const b = d.push(wire.subarray(cut));
      expect([...a.frames, ...b.frames]).toEqual([whole]);
      expect([...a.rejects, ...b.rejects]).toEqual([]);
    }
  });

  it('decodes byte by byte, and two frames in one chunk', () => {
    const w = Buffer.concat([hex(REF['V-PH-5']!), hex(REF['V-PH-7']!)]);
    const d = new FrameDecoder();
    const frames = [...w].flatMap((b) => d.push(Buffer.from([b])).frames);
    expect(frames.map((f) => f.length)).toEqual([0x1c, 0x74]);
  });

  it('rejects a corrupted byte (bad FCS) once, and takes the next frame', () => {
    const bad = hex(REF['V-PH-5']!);
    bad[20] = bad[20]! ^ 0x01;
    const r = new FrameDecoder().push(Buffer.concat([bad, hex(REF['V-PH-5b']!)]));
    expect(r.rejects).toEqual(['intellivue_bad_fcs']);
    expect(r.frames).toHaveLength(1);
  });

  it('resynchronises after garbage, a missing EOF, an abort (7D C1) and a wrong length', () => {
    const good = hex(REF['V-PH-5']!);
    const wrongLen = Buffer.from(good);
    wrongLen[4] = 0x1d; // length 0x1D, 28 bytes follow
    const stream = Buffer.concat([hex('01 02 03'), good.subarray(0, 10), good, hex('C0 11 01 7D C1'), wrongLen, good]);
    const r = new FrameDecoder().push(stream);
    expect(r.rejects).toEqual(['intellivue_stray_bytes', 'intellivue_unterminated', 'intellivue_abort', 'intellivue_bad_length']);
    expect(r.frames).toHaveLength(2);
  });

  it('escapes at the frame edges: the byte after the header start and the last FCS byte', () => {
    // 192 bytes of user data: the length's low byte is C0, escaped right after "11 01 00".
    const data = Buffer.alloc(192, 0x41);
    const w = encodeFrame(data);
    expect(w.subarray(0, 6).toString('hex')).toBe('c01101007de0');
    expect(unframe(w)).toEqual(data);
    // Find user data whose FCS high byte (the last before EOF) needs escaping.
    let found: Buffer | null = null;
    for (let i = 0; i < 5000 && !found; i++) {
      const d = Buffer.from([i & 0xff, i >> 8, 0x55]);
      const body = Buffer.concat([hex('1101 0003'), d]);
      if ([0xc0, 0xc1, 0x7d].includes(crc16x25(body) >>> 8)) found = d;
    }
    expect(found).not.toBeNull();
    const w2 = encodeFrame(found!);
    expect(w2[w2.length - 3]).toBe(0x7d);
    for (let cut = 1; cut < w2.length; cut++) {
      const dec = new FrameDecoder();
      expect([...dec.push(w2.subarray(0, cut)).frames, ...dec.push(w2.subarray(cut)).frames]).toEqual([found]);
    }
  });

  it('drops an endless frame without growing (too long), then takes the next', () => {
    const d = new FrameDecoder();
    const r1 = d.push(Buffer.concat([hex('C0'), Buffer.alloc(10_000, 0x22), hex('C1')]));
    expect(r1.rejects).toEqual(['intellivue_too_long']);
    expect(d.push(hex(REF['V-PH-5']!)).frames).toHaveLength(1);
  });
});

describe('IntelliVue FLOAT-Type', () => {
  it.each([
    ['00000062', { value: 98 }],
    ['FF00016F', { value: 36.7 }],
    ['FF00000C', { value: 1.2 }],
    ['FE0004D2', { value: 12.34 }],
    ['00FFFFFB', { value: -5 }],
    ['007FFFFF', { special: 'nan' }],
    ['00800000', { special: 'nres' }],
    ['007FFFFE', { special: '+inf' }],
    ['00800002', { special: '-inf' }],
    ['FF7FFFFF', { special: 'nan' }], // specials by mantissa, whatever the exponent
    ['02800000', { special: 'nres' }],
  ])('%s', (w, expected) => {
    expect(decodeFloat(parseInt(w, 16))).toEqual(expected);
  });
});

describe('IntelliVue messages', () => {
  it('V-PH-7: the extended poll result decodes to SpO2 98 %, HR 72 /min, Temp 36.7 °C', () => {
    const d = decodeMessage(unframe(hex(REF['V-PH-7']!)));
    expect(d.ok).toBe(true);
    if (!d.ok || d.msg.kind !== 'poll_result') throw new Error('not a poll result');
    expect(d.msg.relTime).toBe(0x00123456);
    expect(d.msg.absTime).toBe(new Date(2025, 0, 7, 12, 30, 0).getTime());
    expect(d.msg.observations.map((o) => o.handle)).toEqual([0x10, 0x11, 0x12]);
    const ns = d.msg.observations.flatMap((o) => numerics(o) as Exclude<ReturnType<typeof numerics>, string>);
    expect(ns.map((n) => [n.physio, n.state, n.unit, n.value])).toEqual([
      [0x4bb8, 0, 0x0220, { value: 98 }],
      [0x4182, 0, 0x0aa0, { value: 72 }],
      [0x4b48, 0, 0x17a0, { value: 36.7 }],
    ]);
  });

  it('every truncation of V-PH-7 is rejected with a reason, never thrown', () => {
    const u = unframe(hex(REF['V-PH-7']!));
    for (let n = 0; n < u.length; n++) {
      const d = decodeMessage(u.subarray(0, n));
      if (!d.ok) expect(d.reason).toMatch(/^intellivue_/);
    }
  });
});

/** An MDS Create Event Report as a monitor sends it (§2.3, layout of V-PH-5 as an ROIV; MdsCreateInfo: managed object, attributes). */
function mdsReport(command: number, invokeId: number, eventTime: number): Buffer {
  const attrs = Buffer.concat([hex('0987 0008 20250107 12295900'), hex('098F 0004 00100000')]);
  const args = Buffer.concat([hex('0021 0000 0000 0002'), Buffer.from([attrs.length >> 8, attrs.length & 0xff]), attrs]);
  const body = Buffer.concat([
    hex('0021 0000 0000'),
    Buffer.from([eventTime >>> 24, (eventTime >>> 16) & 0xff, (eventTime >>> 8) & 0xff, eventTime & 0xff]),
    hex('0D06'),
    Buffer.from([0, args.length]),
    args,
  ]);
  const ro = Buffer.concat([Buffer.from([invokeId >> 8, invokeId & 0xff, 0, command, body.length >> 8, body.length & 0xff]), body]);
  return encodeFrame(Buffer.concat([hex('E1000002 0001'), Buffer.from([ro.length >> 8, ro.length & 0xff]), ro]));
}

/** A session past association and the MDS Create event (polling at 1 s). */
function session(): IntellivueSession {
  const s = new IntellivueSession({ pollIntervalMs: 1000 });
  s.open(0);
  s.data(encodeFrame(hex('0E00')), 0);
  s.data(mdsReport(1, 1, 1), 0);
  return s;
}

describe('IntelliVue session', () => {
  it.each([1, 0])('associates, answers the MDS report (command %i) echoing its ids, polls, and reads V-PH-7', (command) => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    const o = s.open(0);
    expect(o.writes).toEqual([encodeFrame(AARQ)]);
    expect(s.data(encodeFrame(hex('0E 00')), 10).frames).toBe(1);
    expect(s.phase).toBe('awaiting_mds');
    const r = s.data(mdsReport(command, 0x1234, 0x00abcdef), 20);
    expect(r.writes[0]).toEqual(encodeFrame(mdsCreateResult(0x1234, 0x00abcdef)));
    expect(r.writes.slice(1).map((w) => decodeMessage(new FrameDecoder().push(w).frames[0]!))).toHaveLength(2);
    expect(s.phase).toBe('polling');
    const v = s.data(hex(REF['V-PH-7']!), 30);
    expect(v.readings.map((x) => [x.metric, x.value, x.unit])).toEqual([
      ['spo2', 98, '%'],
      ['heart_rate', 72, '/min'],
      ['body_temp', 36.7, 'Cel'],
    ]);
    expect(v.readings[0]!.deviceTime).toBe(new Date(2025, 0, 7, 12, 30, 0).getTime());
    // next poll after the interval, not before
    expect(s.tick(500).writes).toHaveLength(0);
    expect(s.tick(1020).writes).toHaveLength(2);
  });

  it('keep-alive every 6 s and MDS re-poll every 60 s only with a poll interval over 1 s (correction 2)', () => {
    const started = (pollIntervalMs: number): IntellivueSession => {
      const s = new IntellivueSession({ pollIntervalMs });
      s.open(0);
      s.data(encodeFrame(hex('0E 00')), 0);
      s.data(mdsReport(1, 0x0042, 0x00abcdef), 0);
      return s;
    };
    /** Kind of each message written between two times, ticking every 250 ms. */
    const sent = (s: IntellivueSession, from: number, to: number): string[] => {
      const kinds: string[] = [];
      for (let t = from; t <= to; t += 250)
        for (const w of s.tick(t).writes) {
          const u = new FrameDecoder().push(w).frames[0]!;
          const action = u.readUInt16BE(10) === 7 ? u.readUInt16BE(24) : -1;
          kinds.push(
            u.equals(mdsCreateResult(0x0042, 0x00abcdef)) ? 'keepalive' : action === 0x0c16 ? `single:${u.readUInt16BE(32)}` : action === 0xf13b ? 'ext' : '?',
          );
        }
      return kinds;
    };
    const slow = sent(started(2000), 250, 60_000);
    expect(slow.filter((k) => k === 'keepalive')).toHaveLength(10); // 6 s ... 60 s
    expect(slow.filter((k) => k === 'single:33')).toHaveLength(1); // the MDS object (0x21) at 60 s
    expect(slow.filter((k) => k === 'ext')).toHaveLength(60); // numerics and alarms every 2 s
    expect(slow).not.toContain('?');
    const fast = sent(started(1000), 250, 60_000);
    expect(fast.filter((k) => k !== 'ext')).toEqual([]);
  });

  it('re-sends the association request after a refusal', () => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    const r = s.data(encodeFrame(hex('0C 00')), 10);
    expect(r.readings.map((x) => x.extra?.code)).toEqual(['ASSOCIATION_REFUSED']);
    expect(s.tick(2000).writes).toHaveLength(0);
    expect(s.tick(5010).writes).toEqual([encodeFrame(AARQ)]);
  });
});

describe('IntelliVue label resolution (correction 4)', () => {
  /** A poll result (RORS, extended) with one observation carrying the given attributes. */
  function pollResult(attrs: Buffer, count: number): Buffer {
    const obs = Buffer.concat([hex('0020'), Buffer.from([0, count, attrs.length >> 8, attrs.length & 0xff]), attrs]);
    const info = Buffer.concat([hex('0000 0001'), Buffer.from([obs.length >> 8, obs.length & 0xff]), obs]);
    const result = Buffer.concat([hex('0001 0000 00123456 FFFFFFFFFFFFFFFF 0001 0006 0000 0001'), Buffer.from([info.length >> 8, info.length & 0xff]), info]);
    const body = Buffer.concat([hex('0021 0000 0000 F13B'), Buffer.from([result.length >> 8, result.length & 0xff]), result]);
    const ro = Buffer.concat([hex('0001 0007'), Buffer.from([body.length >> 8, body.length & 0xff]), body]);
    return encodeFrame(Buffer.concat([hex('E1000002 0002'), Buffer.from([ro.length >> 8, ro.length & 0xff]), ro]));
  }
  const nu = (physio: string, value: string): Buffer => hex(`0950 000A ${physio} 0000 0AA0 ${value}`);

  it('a generic pulse (0x480A) labelled 0x00024822 is the oximeter pulse; unlabelled it is not sent', () => {
    const labelled = session().data(pollResult(Buffer.concat([hex('0924 0004 00024822'), nu('480A', '00000041')]), 2), 0).readings;
    expect(labelled.map((r) => [r.metric, r.value])).toEqual([['pulse_rate_oximeter', 65]]);
    const bare = session().data(pollResult(nu('480A', '00000041'), 1), 0).readings;
    expect(bare).toEqual([]);
  });

  it('state bits: invalid/unavailable/calibrating/test values are not sent; questionable and demo are flagged', () => {
    const s = session();
    const state = (bits: string): Buffer => hex(`0950 000A 4182 ${bits} 0AA0 00000048`);
    const got = (bits: string) => s.data(pollResult(state(bits), 1), 0).readings.map((r) => [r.value, r.quality ?? []]);
    expect(got('8000')).toEqual([]);
    expect(got('2000')).toEqual([]);
    expect(got('1000')).toEqual([]);
    expect(got('0800')).toEqual([]);
    expect(got('4000')).toEqual([[72, ['questionable']]]);
    expect(got('0400')).toEqual([[72, ['simulated']]]);
    expect(got('0002')).toEqual([[72, []]]);
  });

  it('special FLOAT values are readings with no number and their flag, never numbers', () => {
    const s = session();
    const got = (v: string) => s.data(pollResult(nu('4182', v), 1), 0).readings.map((r) => [r.metric, Number.isNaN(r.value), r.quality]);
    expect(got('007FFFFF')).toEqual([['heart_rate', true, ['value_nan']]]);
    expect(got('00800000')).toEqual([['heart_rate', true, ['value_nres']]]);
    expect(got('007FFFFE')).toEqual([['heart_rate', true, ['value_positive_infinity']]]);
    expect(got('00800002')).toEqual([['heart_rate', true, ['value_negative_infinity']]]);
    // With an invalid state the value is not sent at all, special or not.
    expect(s.data(pollResult(hex('0950 000A 4182 8000 0AA0 007FFFFF'), 1), 0).readings).toEqual([]);
  });
});

describe('IntelliVue ventilated-patient numerics (reference §2.6 and the catalogue)', () => {
  /**
   * [synthetic] Extended poll result (RORS) laid out like V-PH-7 with six numerics, handles 0x20-0x25: perfusion
   * index 1.25 (dimensionless, FE 00 00 7D: the 7D escaped), plateau 22 cmH2O, FiO2 40 %, minute volume 8.4 L/min,
   * airway RR 16 /min, PEEP 5 mbar. FCS 0x557D (its 7D escaped too) by an independent bit-wise CRC.
   */
  const WIRE =
    'C0110100B0E1000002000200A80001000700A2002100000000F13B0098000100000012345620250107123000000001000600000001007E00000006007800200001000E0950000A4BB0' +
    '00000200FE00007D5D00210001000E0950000A50E800000F400000001600220001000E0950000A5284000002200000002800230001000E0950000A514800000C00FF00005400240001' +
    '000E0950000A501200000AE00000001000250001000E0950000A51A800000F72000000057D5D55C1';

  it('decodes to the catalogue metrics with their units', () => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    s.data(encodeFrame(hex('0E00')), 0);
    s.data(mdsReport(1, 1, 1), 0);
    const out = s.data(hex(WIRE), 0);
    expect(out.rejects).toEqual([]);
    expect(out.readings.map((r) => [r.metric, r.value, r.unit])).toEqual([
      ['perfusion_index', 1.25, '%'],
      ['airway_pressure_plateau', 22, 'cm[H2O]'],
      ['fio2', 40, '%'],
      ['minute_volume', 8.4, 'L/min'],
      ['resp_rate_airway', 16, '/min'],
      ['peep', 5, 'mbar'],
    ]);
    // Every unit is one the catalogue takes (mbar converted to cm[H2O]).
    for (const r of out.readings) expect(toCatalogueUnit(CATALOGUE[r.metric as MetricId], r.value, r.unit)).toBeDefined();
  });

  it.each([
    [0x09e0, 'resp_rate', 12, 12],
    [0x1140, 'body_temp', 98.6, 37],
    [0x0640, 'tidal_volume', 0.48, 480],
    [0x0f72, 'peep', 5, 5.0986],
    [0x0c12, 'minute_volume', 8400, 8.4],
  ] as const)('unit code %i: %s %f becomes %f in the catalogue unit', (dim, metric, v, want) => {
    expect(toCatalogueUnit(CATALOGUE[metric], v, UNIT_UCUM.get(dim))).toBeCloseTo(want, 3);
  });

  it.each([
    [0x4bb0, 'perfusion_index', 150448],
    [0x5012, 'resp_rate_airway', 151570],
    [0x50e8, 'airway_pressure_plateau', 151784],
    [0x5284, 'fio2', 152196],
    [0x5148, 'minute_volume', 151880],
    [0x51a8, 'peep', 151976],
    [0x5022, 'vent_resp_rate', 151586],
    [0x51ac, 'tidal_volume', 151980],
    [0x51a5, 'airway_pressure_peak', 151973],
    [0x51a7, 'airway_pressure_mean', 151975],
  ] as const)('physio id %i is %s, MDC %i = 2 x 65536 + id', (id, metric, mdc) => {
    expect(PHYSIO_METRIC.get(id)).toBe(metric);
    expect(2 * 65536 + id).toBe(mdc);
    expect(CATALOGUE[metric].mdcCode).toBe(mdc);
    expect(metricByMdc(mdc)?.id).toBe(metric);
  });
});

describe('IntelliVue periodic polls (NOM_ATTR_TIME_PD_POLL, option pollPeriod)', () => {
  /** A plain RORS extended poll result for `objCode` with no observations (enough to show the monitor answered). */
  const result = (objCode: number): Buffer => {
    const obj = objCode.toString(16).padStart(4, '0');
    return encodeFrame(hex(`E1000002 0002 002A 0001 0007 0024 0021 0000 0000 F13B 001A 0001 0000 00123456 FFFFFFFFFFFFFFFF 0001 ${obj} 0000 0000 0000`));
  };
  const started = (pollPeriod: number, pollIntervalMs = 1000): { s: IntellivueSession; first: Buffer[] } => {
    const s = new IntellivueSession({ pollIntervalMs, options: { pollPeriod } });
    s.open(0);
    s.data(encodeFrame(hex('0E00')), 0);
    const first = s.data(mdsReport(1, 0x0042, 0x00abcdef), 0).writes.slice(1);
    return { s, first };
  };
  /** What each write asks: 'num:<period ticks>' / 'alarm:<ticks>' for extended polls, 'keepalive', '?'. */
  const kind = (w: Buffer): string => {
    const u = new FrameDecoder().push(w).frames[0]!;
    if (u.equals(mdsCreateResult(0x0042, 0x00abcdef))) return 'keepalive';
    if (u.readUInt16BE(10) !== 7 || u.readUInt16BE(24) !== 0xf13b) return '?';
    const ticks = u.readUInt16BE(36) === 1 && u.readUInt16BE(40) === 0xf13e ? u.readUInt32BE(44) : 0;
    return `${u.readUInt16BE(32) === 6 ? 'num' : 'alarm'}:${ticks}`;
  };

  it('the first numerics poll with a 30 s period is V-PH-3 byte for byte; the alert monitor is asked for the same period', () => {
    const { first } = started(30_000);
    expect(first[0]!.toString('hex')).toBe(REF['V-PH-3']!.toLowerCase());
    expect(first.map(kind)).toEqual(['num:240000', 'alarm:240000']);
  });

  it('while the monitor streams, no poll until one interval before the period ends; a keep-alive every 6 s', () => {
    const { s } = started(30_000);
    const sent: [number, string][] = [];
    for (let t = 250; t <= 45_000; t += 250) {
      if (t % 1000 === 0) {
        expect(s.data(result(6), t).frames).toBe(1);
        expect(s.data(result(0x36), t).frames).toBe(1);
      }
      for (const w of s.tick(t).writes) sent.push([t, kind(w)]);
    }
    expect(sent.filter(([, k]) => k !== 'keepalive')).toEqual([
      [29_000, 'num:240000'],
      [29_000, 'alarm:240000'],
    ]);
    expect(sent.filter(([, k]) => k === 'keepalive').map(([t]) => t)).toEqual([6000, 12_000, 18_000, 24_000, 30_000, 36_000, 42_000]);
  });

  it('a monitor that answers a periodic poll once is asked again two intervals after its answer', () => {
    const { s } = started(30_000);
    s.data(result(6), 100); // numerics answered once; the alert monitor never
    const sent: [number, string][] = [];
    for (let t = 250; t <= 4500; t += 250) for (const w of s.tick(t).writes) sent.push([t, kind(w)]);
    expect(sent).toEqual([
      [2000, 'alarm:240000'],
      [2250, 'num:240000'],
      [4000, 'alarm:240000'],
      [4250, 'num:240000'],
    ]);
  });

  it('with pollPeriod 0 the polls carry no period and repeat every interval, as before', () => {
    const { s, first } = started(0);
    expect(first.map(kind)).toEqual(['num:0', 'alarm:0']);
    expect(s.tick(999).writes).toEqual([]);
    expect(s.tick(1000).writes.map(kind)).toEqual(['num:0', 'alarm:0']);
  });
});

describe('IntelliVue port option intellivue.pollPeriod', () => {
  const port = (extra: object) => serialConfigSchema.safeParse({ ports: [{ path: '/dev/ttyUSB0', protocol: 'intellivue', bed: 'B1', ...extra }] });
  it('defaults to 0, takes a duration from 1 s to 24 h, belongs to intellivue ports only', () => {
    const ok = port({ intellivue: {} });
    expect(ok.success && ok.data.ports[0]!.intellivue).toEqual({ pollPeriod: 0 });
    const p30 = port({ intellivue: { pollPeriod: '30s' } });
    expect(p30.success && p30.data.ports[0]!.intellivue?.pollPeriod).toBe(30_000);
    expect(port({ intellivue: { pollPeriod: '500ms' } }).success).toBe(false);
    expect(port({ intellivue: { pollPeriod: '25h' } }).success).toBe(false);
    expect(port({ protocol: 'masimo', intellivue: { pollPeriod: '30s' } }).success).toBe(false);
  });
});

describe('IntelliVue device time from the relative time (§2.4 "Time")', () => {
  /** A RORS extended poll result with HR 72 at relative time `rel` and an unsupported (FF-filled) absolute time. */
  const hrAt = (rel: string): Buffer => {
    const obs = hex('0010 0001 000E 0950 000A 4182 0000 0AA0 00000048');
    const info = Buffer.concat([hex('0001 001A 0000 0001 0014'), obs]);
    const result = Buffer.concat([hex(`0001 0000 ${rel} FFFFFFFFFFFFFFFF 0001 0006 0000`), info]);
    const body = Buffer.concat([hex('0021 0000 0000 F13B'), Buffer.from([0, result.length]), result]);
    const ro = Buffer.concat([hex('0001 0007'), Buffer.from([0, body.length]), body]);
    return encodeFrame(Buffer.concat([hex('E1000002 0002'), Buffer.from([0, ro.length]), ro]));
  };
  /**
   * [synthetic] Single poll result (RORS, action 0x0C16, list at offset 44) of the MDS object, as the MDS re-poll gets
   * it: absolute time 2025-01-07 13:00:00 and relative time 0x00200000. FCS by an independent bit-wise CRC.
   */
  const MDS_POLL =
    'C011010050E1000002000200480001000700420021000000000C16003800010020000020250107130000000001002100000001002000000001001A00000002001409870008202501071300' +
    '0000098F0004002000009F5BC1';

  it("the simulator's MDS single poll result reads as one (list at offset 44) with the time it was built at", () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const u = new IntellivueSimulator({ port: '/nonexistent' }).mdsPollResult(7, 3);
    const after = Date.now();
    const d = decodeMessage(u);
    if (!d.ok || d.msg.kind !== 'poll_result') throw new Error('not a poll result');
    expect([d.msg.invokeId, d.msg.pollNumber, d.msg.objCode, d.msg.observations.length]).toEqual([7, 3, 0x21, 1]);
    const t = mdsTimes(d.msg.observations[0]!);
    expect(t!.abs >= before && t!.abs <= after).toBe(true);
  });

  it('MDS base (12:29:59 at 0x00100000) plus (0x00123456 - 0x00100000) / 8 ms; the MDS re-poll renews the base', () => {
    const s = new IntellivueSession({ pollIntervalMs: 1000 });
    s.open(0);
    s.data(encodeFrame(hex('0E00')), 0);
    s.data(mdsReport(1, 1, 1), 0);
    const first = s.data(hrAt('00123456'), 0).readings;
    expect(first.map((r) => [r.value, r.deviceTime])).toEqual([[72, new Date(2025, 0, 7, 12, 29, 59).getTime() + Math.round(0x23456 / 8)]]);
    const poll = s.data(hex(MDS_POLL), 0);
    expect([poll.frames, poll.rejects, poll.readings]).toEqual([1, [], []]);
    const after = s.data(hrAt('00208000'), 0).readings; // 0x8000 ticks = 4096 ms after the new base
    expect(after.map((r) => r.deviceTime)).toEqual([new Date(2025, 0, 7, 13, 0, 0).getTime() + 4096]);
  });
});

describe('IntelliVue linked results and abort (§2.3, correction 6)', () => {
  // [synthetic] V-PH-7's result as a linked part (RORLS, state 1 first, count 1: list at offset 48), then an empty
  // final RORS; VSCaptureMP's association abort (SPDU 0x19, its C1 escaped). FCS by an independent bit-wise CRC.
  const RORLS =
    'C011010076E10000020005006E0101000100070066002100000000F13B005C000100000012345620250107123000000001000600000001004200000003003C00100001000E0950000A4B' +
    'B8000002200000006200110001000E0950000A418200000AA00000004800120001000E0950000A4B48000017A0FF00016FC364C1';
  const EMPTY_FINAL = 'C011010032E10000020002002A000100070024002100000000F13B001A0001000100123ABCFFFFFFFFFFFFFFFF000100060000000000003FF3C1';
  const ABORT = 'C011010030192E1101037DE129A080A0803080020101060251010000000061803080020101A080648080010100000000000000000000AB89C1';

  it('a linked part reads like V-PH-7; the empty final part is a frame with no readings', () => {
    const s = session();
    const part = s.data(hex(RORLS), 0);
    expect(part.readings.map((r) => [r.metric, r.value])).toEqual([
      ['spo2', 98],
      ['heart_rate', 72],
      ['body_temp', 36.7],
    ]);
    const d = decodeMessage(unframe(hex(RORLS)));
    expect(d.ok && d.msg.kind === 'poll_result' && d.msg.linked).toBe(1);
    const last = s.data(hex(EMPTY_FINAL), 0);
    expect([last.frames, last.rejects, last.readings]).toEqual([1, [], []]);
  });

  it('an abort ends the association: the request again after the pause', () => {
    const s = session();
    expect(s.data(hex(ABORT), 100).frames).toBe(1);
    expect(s.phase).toBe('refused');
    expect(s.tick(1000).writes).toEqual([]);
    expect(s.tick(5100).writes).toEqual([encodeFrame(AARQ)]);
  });
});
