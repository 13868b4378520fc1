/**
 * HL7 v2.6 ORU^R01 per IHE PCD-01: every message parsed by HAPI HL7 v2 (an independent parser,
 * v2.6 structures, default validation) without error, then checked field by field, unescaped by
 * HAPI, against the readings the test built. One JVM for the file.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Lease } from '../../src/buffer/types.js';
import { CATALOGUE } from '../../src/catalogue.js';
import { hl7Escape } from '../../src/forwarder/formats/hl7v2-escape.js';
import { type Hl7v2Options, nm, toPcd01Messages } from '../../src/forwarder/formats/hl7v2-pcd01.js';
import { routeLease } from '../../src/forwarder/routing.js';
import type { Reading } from '../../src/reading.js';
import { type Hl7Answer, type Hl7Segment, hl7Checker } from './java-checker.js';
import { ALARM_CASES, alarmReadings, commit, everyMetricAndUnit, ID_CASES, idCaseReadings, simulatedWard, T0 } from './readings.js';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });
const checker = hl7Checker();
beforeAll(() => checker.start());
afterAll(() => checker.stop());

const OPTS: Hl7v2Options = { sendingFacility: 'St. Elsewhere|ICU', patientIdAuthority: 'HOSP^MRN', pointOfCare: 'ICU~East' };

/** Component c (1-based) of repetition 0 of field f, HAPI's unescaped value. */
const fld = (s: Hl7Segment | undefined, f: number, c = 1, sub = 1): string => s?.fields[f]?.[0]?.[c - 1]?.[sub - 1] ?? '';
const reps = (s: Hl7Segment, f: number): number => s.fields[f]?.length ?? 0;
/** An NTE of an OBX (in an OBSERVATION group), not of the OBR. */
const underObx = (s: Hl7Segment): boolean => /(^|\/)OBSERVATION\(/.test(s.path);

/** HL7 DTM of a time, written here independently of the encoder. */
function dtmOf(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}` +
    `.${p(d.getUTCMilliseconds(), 3)}+0000`
  );
}

/** What the test expects of each device's message, from the readings alone. */
function expectedMessages(readings: Reading[]): Map<string, Reading[]> {
  const byDevice = new Map<string, Reading[]>();
  for (const r of readings) {
    if (CATALOGUE[r.metric].mdcCode === undefined && r.metric !== 'gateway_event') continue;
    if (!CATALOGUE[r.metric].ucum) continue;
    const k = JSON.stringify([r.deviceId, r.bed, r.patientId ?? null]);
    byDevice.set(k, [...(byDevice.get(k) ?? []), r]);
  }
  return byDevice;
}

async function parseAll(readings: Reading[], opts: Hl7v2Options = OPTS): Promise<{ answer: Hl7Answer; groups: Reading[][] }> {
  const msgs = toPcd01Messages(readings, opts);
  const answer = await checker.check(msgs.map((m) => m.text));
  expect(answer.results.flatMap((r) => r.errors.map((e) => `#${r.index}: ${e}`))).toEqual([]);
  const groups = [...expectedMessages(readings).values()];
  expect(answer.results).toHaveLength(groups.length);
  return { answer, groups };
}

/** Checks one parsed message field by field against the readings it must carry. */
function checkMessage(segments: Hl7Segment[], rs: Reading[], opts: Hl7v2Options, flags?: Map<number, string>): void {
  const first = rs[0]!;
  const seqs = rs.map((r) => r.seq);
  const msh = segments.find((s) => s.name === 'MSH')!;
  expect(fld(msh, 3)).toBe('wardgate');
  expect(fld(msh, 4)).toBe(opts.sendingFacility ?? first.gatewayId);
  expect([fld(msh, 9, 1), fld(msh, 9, 2), fld(msh, 9, 3)]).toEqual(['ORU', 'R01', 'ORU_R01']);
  expect(fld(msh, 10)).toBe(`${first.gatewayId}-${Math.min(...seqs)}-${Math.max(...seqs)}`);
  expect(fld(msh, 11)).toBe('P');
  expect(fld(msh, 12)).toBe('2.6');
  expect(fld(msh, 18)).toBe('UNICODE UTF-8');
  expect([fld(msh, 21, 1), fld(msh, 21, 3), fld(msh, 21, 4)]).toEqual(['IHE_PCD_001', '1.3.6.1.4.1.19376.1.6.1.1.1', 'ISO']);
  const pid = segments.find((s) => s.name === 'PID');
  const pv1 = segments.find((s) => s.name === 'PV1');
  if (first.deviceKind === 'gateway') {
    expect(pid).toBeUndefined();
  } else {
    if (first.patientId !== undefined) {
      expect(fld(pid, 3, 1)).toBe(first.patientId);
      expect(fld(pid, 3, 4)).toBe(opts.patientIdAuthority ?? '');
      expect(fld(pid, 3, 5)).toBe('PI');
      expect(fld(pid, 31)).toBe('');
    } else {
      expect(fld(pid, 3, 1)).toBe('');
      expect(fld(pid, 31)).toBe('Y');
    }
    expect(fld(pv1, 3, 1)).toBe(opts.pointOfCare ?? '');
    expect(fld(pv1, 3, 3)).toBe(first.bed);
  }
  const obr = segments.find((s) => s.name === 'OBR')!;
  expect(fld(obr, 4, 1)).toBe('182777000');
  expect(fld(obr, 2, 1)).toBe(`${first.gatewayId}-${Math.min(...seqs)}`);
  const obxs = segments.filter((s) => s.name === 'OBX');
  const values = rs.filter((r) => r.metric !== 'gateway_event');
  const notes = rs.filter((r) => r.metric === 'gateway_event');
  if (values.length === 0) expect(obxs).toEqual([]);
  else {
    // The device (MDS) row, then one OBX per reading in seq order.
    const [mds, ...rows] = obxs;
    expect([fld(mds, 3, 1), fld(mds, 3, 3), fld(mds, 4), fld(mds, 11), fld(mds, 18)]).toEqual(['69965', 'MDC', '1.0.0.0', 'X', first.deviceId]);
    expect(rows).toHaveLength(values.length);
    rows.forEach((o, i) => {
      const r = values[i]!;
      const def = CATALOGUE[r.metric];
      expect(fld(o, 1)).toBe(String(i + 2));
      expect(fld(o, 2)).toBe('NM');
      expect([fld(o, 3, 1), fld(o, 3, 2), fld(o, 3, 3)]).toEqual([String(def.mdcCode), def.mdcRefId, 'MDC']);
      expect([fld(o, 3, 4), fld(o, 3, 6)]).toEqual(def.loinc[0] ? [def.loinc[0], 'LN'] : ['', '']);
      expect(reps(o, 3)).toBe(1);
      expect(fld(o, 4)).toMatch(/^1\.[1-9]\d*\.1\.[1-9]\d*$/);
      // No number (value-absent flag): OBX-5 empty and OBX-11 X; else the value and R.
      const absent = r.quality.some((q) => q.startsWith('value_'));
      if (absent) expect(fld(o, 5)).toBe('');
      else expect(Number(fld(o, 5))).toBe(r.value);
      expect([fld(o, 6, 1), fld(o, 6, 3)]).toEqual([def.unit, 'UCUM']);
      expect(fld(o, 8)).toBe(flags?.get(r.seq) ?? (r.quality.includes('out_of_range') ? 'A' : ''));
      expect(fld(o, 11)).toBe(absent ? 'X' : 'R');
      const fromDevice = r.deviceTime !== undefined && !r.quality.includes('device_clock_skew');
      expect(fld(o, 14)).toBe(dtmOf(fromDevice ? r.deviceTime! : r.gatewayTime));
      expect(fld(o, 18, 1)).toBe(r.deviceId);
      expect(fld(o, 19)).toBe(dtmOf(r.gatewayTime));
    });
  }
  // Gateway events (gap records) as NTEs directly after the OBR, naming their seq.
  const obrNotes = segments.filter((s) => s.name === 'NTE' && !underObx(s));
  expect(obrNotes.map((n) => fld(n, 3))).toEqual(notes.map((r) => expect.stringContaining(`seq ${r.seq}`)));
}

/** The simulator's alarms: direction from the code (SPO2_LOW, HR_HIGH, ...), critical when high priority. */
function expectedAlarmFlag(r: Reading): string {
  const low = /_LOW$/.test(String(r.extra?.alarm));
  const high = r.extra?.severity === 'high';
  return low ? (high ? 'LL' : 'L') : high ? 'HH' : 'H';
}

describe('HL7 escaping', () => {
  const table: [string, string][] = [
    ['plain', 'plain'],
    ['a|b', 'a\\F\\b'],
    ['a^b', 'a\\S\\b'],
    ['a&b', 'a\\T\\b'],
    ['a~b', 'a\\R\\b'],
    ['a\\b', 'a\\E\\b'],
    ['\\F\\', '\\E\\F\\E\\'],
    ['line1\rline2', 'line1\\X0D\\line2'],
    ['line1\nline2', 'line1\\X0A\\line2'],
    ['tab\there', 'tab\\X09\\here'],
    ['|^~\\&', '\\F\\\\S\\\\R\\\\E\\\\T\\'],
    ['Müller 😀', 'Müller 😀'],
  ];
  it.each(table)('%j -> %j', (raw, escaped) => {
    expect(hl7Escape(raw)).toBe(escaped);
  });

  // HAPI turns the delimiter escapes back into the characters; hex escapes (\Xhh\: control
  // characters such as CR) are left to the receiving application, as HL7 defines them.
  const hexOnly = (raw: string) => raw.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\X${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}\\`);
  it('HAPI reads every table entry back unchanged (hex escapes aside) from MSH-4, PID-3, PV1-3 and OBX-18', async () => {
    const inputs = table.map(
      ([raw], i) =>
        commit(
          [{ deviceId: `dev${raw}`, deviceKind: 'serial', bed: `bed${raw}`, patientId: `pat${raw}`, metric: 'spo2', value: 90 + i, deviceTime: T0 }],
          `gw-${i}`,
          100 + i,
        )[0]!,
    );
    for (const [i, r] of inputs.entries()) {
      const opts = { ...OPTS, sendingFacility: `fac${table[i]![0]}` };
      const { answer, groups } = await parseAll([r], opts);
      const seen = (x: string) => hexOnly(x);
      const g = groups[0]!.map((x) => ({ ...x, gatewayId: seen(x.gatewayId), deviceId: seen(x.deviceId), bed: seen(x.bed), patientId: seen(x.patientId!) }));
      checkMessage(answer.results[0]!.segments, g, { ...opts, sendingFacility: seen(opts.sendingFacility) });
      expect(
        fld(
          answer.results[0]!.segments.find((s) => s.name === 'PID'),
          3,
        ),
      ).toBe(seen(`pat${table[i]![0]}`));
    }
  });
});

describe('OBX-5 numbers (HL7 NM: sign, digits, point; no exponent)', () => {
  it.each([
    [97, '97'],
    [36.6, '36.6'],
    [-0.5, '-0.5'],
    [1e-7, '0.0000001'],
    [-2.5e-9, '-0.0000000025'],
    [1e25, '10000000000000000905969664'],
    [-1e21, '-1000000000000000000000'],
    [9007199254740991, '9007199254740991'],
  ])('%d -> %s', (v, text) => {
    expect(nm(v)).toBe(text);
    expect(text).toMatch(/^-?\d+(\.\d+)?$/);
    expect(Number(text)).toBeCloseTo(v, 12);
  });
});

describe('the checker can fail (negative controls)', () => {
  it('reports a bad timestamp and a segment out of place; an unescaped delimiter fails the field checks', async () => {
    const [good] = toPcd01Messages(idCaseReadings(ID_CASES[0]!), OPTS).map((m) => m.text);
    const badTime = good!.replace(/\|20261125095959\.700\+0000\|/, '|2026-11-25 09:59|');
    const obxFirst = good!.split('\r').filter(Boolean);
    const swapped = `${[obxFirst[0], obxFirst.find((s) => s.startsWith('OBX|2')), ...obxFirst.slice(1).filter((s) => !s.startsWith('OBX|2'))].join('\r')}\r`;
    const a = await checker.check([good, badTime, swapped]);
    expect(a.results[0]!.errors).toEqual([]);
    expect(a.results[1]!.errors.join(' ')).toMatch(/DTM|date|time/i);
    expect(a.results[2]!.errors.join(' ')).toMatch(/OBR/);
    // The patient id with its delimiters written raw: HAPI parses it, the field check does not pass.
    const rs = idCaseReadings(ID_CASES.find((c) => c.patientId?.includes('|'))!);
    const [msg] = toPcd01Messages(rs, OPTS);
    const raw = msg!.text.replace(hl7Escape(rs[0]!.patientId!), rs[0]!.patientId!);
    const b = await checker.check([raw]);
    expect(() => checkMessage(b.results[0]!.segments, rs, OPTS)).toThrow();
  });
});

describe('PCD-01 messages field by field', () => {
  it('simulated ward: one message per device, every reading an OBX with its value, unit, codes, times', async () => {
    // One lease per 2 s of the ward (one message per device per lease), alarms included.
    const readings = simulatedWard(6, 20);
    expect(readings.some((r) => r.priorityClass === 'alarm')).toBe(true);
    for (let t = 0; t < 20; t += 2) {
      const lease = readings.filter((r) => r.gatewayTime >= T0 + t * 1000 && r.gatewayTime < T0 + (t + 2) * 1000);
      const flags = new Map(lease.filter((r) => r.priorityClass === 'alarm').map((r) => [r.seq, expectedAlarmFlag(r)]));
      const { answer, groups } = await parseAll(lease);
      expect(groups).toHaveLength(6);
      for (const [i, g] of groups.entries()) checkMessage(answer.results[i]!.segments, g, OPTS, flags);
    }
  });

  it('edge-case ids: patient, bed and device come back unescaped', async () => {
    for (const c of ID_CASES) {
      const readings = idCaseReadings(c);
      const { answer, groups } = await parseAll(readings);
      for (const [i, g] of groups.entries()) checkMessage(answer.results[i]!.segments, g, OPTS);
    }
  });

  it('every catalogue metric with an MDC code, in every unit (converted values)', async () => {
    const readings = everyMetricAndUnit();
    const { answer, groups } = await parseAll(readings, {});
    for (const [i, g] of groups.entries()) checkMessage(answer.results[i]!.segments, g, {});
    // Values a device may send (kept, flagged out_of_range) that JavaScript writes with an exponent.
    const extreme = commit(
      [1e25, 1e-7, -2.5e-9].map((value) => ({ deviceId: 'mon-x', deviceKind: 'serial' as const, bed: 'BED-X', metric: 'body_temp', value, deviceTime: T0 })),
      'gw-ward-3',
      6000,
    );
    const x = await parseAll(extreme, {});
    checkMessage(x.answer.results[0]!.segments, x.groups[0]!, {});
    const sent = new Set(groups.flat().map((r) => r.metric));
    for (const m of Object.values(CATALOGUE)) if (m.mdcCode !== undefined && m.ucum) expect(sent.has(m.id)).toBe(true);
  });

  it('special values: OBX-5 empty, OBX-11 X and an NTE under the OBX naming the special; HAPI parses them', async () => {
    const flags = ['value_nan', 'value_nres', 'value_positive_infinity', 'value_negative_infinity', 'value_reserved'] as const;
    const readings = commit(
      [
        { deviceId: 'ox-1', deviceKind: 'ble' as const, bed: 'BED-S', patientId: 'P-5', metric: 'heart_rate', value: 71, deviceTime: T0 },
        ...flags.map((flag) => ({
          deviceId: 'ox-1',
          deviceKind: 'ble' as const,
          bed: 'BED-S',
          patientId: 'P-5',
          metric: 'spo2',
          value: NaN,
          quality: [flag],
          deviceTime: T0,
        })),
      ],
      'gw-ward-3',
      9000,
    );
    const { answer, groups } = await parseAll(readings);
    checkMessage(answer.results[0]!.segments, groups[0]!, OPTS);
    const notes = answer.results[0]!.segments.filter((s) => s.name === 'NTE' && underObx(s)).map((n) => fld(n, 3));
    expect(notes).toEqual([
      'no value: the device sent NaN (not a number)',
      'no value: the device sent NRes (not at this resolution)',
      'no value: the device sent +INFINITY',
      'no value: the device sent -INFINITY',
      'no value: the device sent a reserved special value',
    ]);
  });

  it('alarms: OBX-8 abnormal flag by condition and priority, the device alarm as an NTE', async () => {
    const readings = alarmReadings();
    const flags = new Map(readings.map((r, i) => [r.seq, ALARM_CASES[i]!.interpretation]));
    const { answer, groups } = await parseAll(readings);
    checkMessage(answer.results[0]!.segments, groups[0]!, OPTS, flags);
    const notes = answer.results[0]!.segments.filter((s) => s.name === 'NTE' && underObx(s)).map((n) => fld(n, 3));
    expect(notes).toEqual(
      ALARM_CASES.map((c) => expect.stringContaining(`condition=${c.extra.alarm}; priority=${c.extra.severity ?? ''}`.replace(/; priority=$/, ''))),
    );
  });

  it('gap records travel as NTEs of a gateway message; readings without a device clock get a note', async () => {
    const gap: Reading = {
      gatewayId: 'gw-ward-3',
      seq: 777,
      deviceId: 'gw-ward-3',
      deviceKind: 'gateway',
      bed: 'gateway',
      metric: 'gateway_event',
      value: 11,
      unit: '1',
      gatewayTime: T0,
      priorityClass: 'status',
      quality: [],
      extra: {
        event: 'gap',
        reason: 'evicted|full',
        class: 'vital',
        firstSeq: 10,
        lastSeq: 20,
        fromTime: T0 - 60_000,
        toTime: T0 - 1000,
        count: 11,
        devices: 'mon-1,mon-2',
        devicesKnown: true,
      },
    };
    const noClock = commit([{ deviceId: 'ble-1', deviceKind: 'ble', bed: 'BED-2', metric: 'heart_rate', value: 70 }], 'gw-ward-3', 778)[0]!;
    const { answer, groups } = await parseAll([gap, noClock]);
    for (const [i, g] of groups.entries()) checkMessage(answer.results[i]!.segments, g, OPTS);
    const gapNote = fld(
      answer.results[0]!.segments.find((s) => s.name === 'NTE'),
      3,
    );
    expect(gapNote).toContain('reason=evicted|full');
    expect(gapNote).toContain('firstSeq=10; lastSeq=20');
    expect(gapNote).toContain(`fromTime=${new Date(T0 - 60_000).toISOString()}`);
    expect(answer.results[1]!.segments.filter((s) => s.name === 'NTE').map((n) => fld(n, 3))).toEqual([expect.stringContaining('gateway receive time')]);
  });
});

describe('routing', () => {
  it('sends one PCD-01 message per device on the class topic, headers carrying every seq; JSON v1 is unchanged', () => {
    const readings = simulatedWard(2, 3);
    const lease: Lease = { id: 1, priorityClass: 'vital', bytes: 0, readings, partial: false };
    const plain = routeLease(lease, { topics: { alarm: 'a', vital: 'v', status: 's', waveform: 'w' }, key: 'device' });
    const withHl7 = routeLease(lease, {
      topics: { alarm: 'a', vital: 'v', status: 's', waveform: 'w' },
      key: 'device',
      hl7v2Topics: { vital: 'ward.hl7' },
      hl7v2: OPTS,
    });
    expect(withHl7[0]).toEqual(plain[0]);
    const hl7 = withHl7.find((b) => b.topic === 'ward.hl7')!;
    const expected = [...expectedMessages(readings).values()];
    expect(hl7.messages).toHaveLength(expected.length);
    hl7.messages.forEach((m, i) => {
      expect(m.headers!['wardgate-seqs']).toBe(expected[i]!.map((r) => r.seq).join(','));
      expect(m.headers!['wardgate-seq']).toBe(String(expected[i]![0]!.seq));
      expect(m.headers!['wardgate-schema']).toBe('hl7v2.pcd01.oru-r01');
      expect(m.key).toBe(expected[i]![0]!.deviceId);
      expect(String(m.value).startsWith('MSH|^~\\&|wardgate|')).toBe(true);
    });
  });
});
