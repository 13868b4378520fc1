/**
 * IntelliVue Data Export messages from the monitor (reference §2.3-2.7): session SPDUs,
 * the MDS Create Event Report, extended/single poll results (RORS and linked RORLS) with
 * their nested lists, numerics (0x0950, compound 0x094B, label 0x0924) and alarm lists
 * (0x0902 patient, 0x0904 technical). Pure: user data in, a typed message or a reason out.
 * Every length is checked against what is there; unknown attributes are skipped by length.
 */
import { decodeFloat, type FloatValue } from './float.js';

export interface Attribute {
  id: number;
  value: Buffer;
}

export interface Observation {
  handle: number;
  attrs: Attribute[];
}

export type Message =
  | { kind: 'assoc_accept' }
  | { kind: 'assoc_refuse' }
  | { kind: 'release_request' }
  | { kind: 'release_response' }
  | { kind: 'abort' }
  | { kind: 'mds_create'; invokeId: number; eventTime: number; command: number; absTime?: number; relTime?: number }
  | {
      kind: 'poll_result';
      invokeId: number;
      linked?: number;
      pollNumber: number;
      relTime: number;
      absTime?: number;
      objCode: number;
      observations: Observation[];
    }
  | { kind: 'remote_error'; invokeId: number }
  | { kind: 'other' };

export type Decoded = { ok: true; msg: Message } | { ok: false; reason: string };

class Short extends Error {}

/** A bounds-checked big-endian reader over one message. */
class Reader {
  constructor(
    readonly b: Buffer,
    public pos = 0,
    readonly end = b.length,
  ) {}
  need(n: number): void {
    if (this.pos + n > this.end) throw new Short();
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.b.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.b.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  /** A sub-reader over the next n bytes (a counted list). */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.b, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}

/** BCD absolute time (century, year, month, day, hour, min, sec, fraction) -> ms, monitor local time; undefined when 0xFF-filled or not BCD. */
function bcdTime(b: Buffer): number | undefined {
  if (b.length < 8) return undefined;
  const digits: number[] = [];
  for (let i = 0; i < 7; i++) {
    const x = b[i]!;
    if (x >> 4 > 9 || (x & 15) > 9) return undefined;
    digits.push((x >> 4) * 10 + (x & 15));
  }
  const [c, y, mo, day, h, mi, s] = digits as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  return new Date(c * 100 + y, mo - 1, day, h, mi, s).getTime();
}

function attributeList(r: Reader): Attribute[] {
  const count = r.u16();
  const list = r.sub(r.u16());
  const out: Attribute[] = [];
  for (let i = 0; i < count; i++) {
    const id = list.u16();
    const len = list.u16();
    out.push({ id, value: list.bytes(len) });
  }
  return out;
}

function pollInfoList(r: Reader): Observation[] {
  const out: Observation[] = [];
  const contexts = r.u16();
  const list = r.sub(r.u16());
  for (let c = 0; c < contexts; c++) {
    list.u16(); // context id
    const n = list.u16();
    const obs = list.sub(list.u16());
    for (let i = 0; i < n; i++) {
      const handle = obs.u16();
      out.push({ handle, attrs: attributeList(obs) });
    }
  }
  return out;
}

/**
 * The MDS attributes of an MDS Create Event Report. Its event info is MdsCreateInfo: the MDS managed object
 * (class, context, handle: 6 bytes) and then the attribute list, as VSCaptureMP (list at message offset 34) and
 * OpenICE (MdsCreateInfo) read it. A bare attribute list (no managed object) is accepted as well. The report
 * must be answered whatever its attributes hold, so an unreadable list gives no attributes rather than a
 * rejected report (the base time is then unknown and the poll's own absolute time is used).
 */
function mdsCreateInfo(args: Reader): Attribute[] {
  const left = args.end - args.pos;
  const listAt = (off: number): boolean => left >= off + 4 && off + 4 + args.b.readUInt16BE(args.pos + off + 2) === left;
  const off = listAt(6) ? 6 : listAt(0) ? 0 : -1;
  if (off < 0) return [];
  try {
    args.bytes(off);
    return attributeList(args);
  } catch (e) {
    if (e instanceof Short) return [];
    throw e;
  }
}

export function decodeMessage(u: Buffer): Decoded {
  try {
    return { ok: true, msg: decode(u) };
  } catch (e) {
    if (e instanceof Short) return { ok: false, reason: 'intellivue_truncated' };
    throw e;
  }
}

function decode(u: Buffer): Message {
  const r = new Reader(u);
  const spdu = r.u8();
  if (spdu === 0x0e) return { kind: 'assoc_accept' };
  if (spdu === 0x0c) return { kind: 'assoc_refuse' };
  if (spdu === 0x09) return { kind: 'release_request' };
  if (spdu === 0x0a) return { kind: 'release_response' };
  if (spdu === 0x19) return { kind: 'abort' };
  if (spdu !== 0xe1) return { kind: 'other' };
  r.bytes(3); // 00 00 02: presentation context
  const roType = r.u16();
  const ro = r.sub(r.u16());
  let linked: number | undefined;
  if (roType === 5) {
    linked = ro.u8();
    ro.u8(); // count
  }
  const invokeId = ro.u16();
  if (roType === 3) return { kind: 'remote_error', invokeId };
  const command = ro.u16();
  const body = ro.sub(ro.u16());
  if (roType === 1 && (command === 0 || command === 1)) {
    // Event report: managed object, event time, event type, then the MDS attributes.
    body.bytes(6);
    const eventTime = body.u32();
    const eventType = body.u16();
    const args = body.sub(body.u16());
    if (eventType !== 0x0d06) return { kind: 'other' };
    const m: Message = { kind: 'mds_create', invokeId, eventTime, command };
    for (const a of mdsCreateInfo(args)) {
      if (a.id === 0x0987) {
        const t = bcdTime(a.value);
        if (t !== undefined) m.absTime = t;
      } else if (a.id === 0x098f && a.value.length >= 4) m.relTime = a.value.readUInt32BE(0);
    }
    return m;
  }
  if ((roType === 2 || roType === 5) && command === 7) {
    body.bytes(6); // managed object
    const actionType = body.u16();
    const res = body.sub(body.u16());
    if (actionType !== 0xf13b && actionType !== 0x0c16) return { kind: 'other' };
    const pollNumber = res.u16();
    if (actionType === 0xf13b) res.u16(); // sequence number
    const relTime = res.u32();
    const abs = bcdTime(res.bytes(8));
    res.u16(); // partition
    const objCode = res.u16();
    res.u16(); // attribute group
    const observations = pollInfoList(res);
    const m: Message = { kind: 'poll_result', invokeId, pollNumber, relTime, objCode, observations };
    if (linked !== undefined) m.linked = linked;
    if (abs !== undefined) m.absTime = abs;
    return m;
  }
  return { kind: 'other' };
}

/** The MDS time base in an observation of the MDS object (a single poll of 0x21): absolute time 0x0987 and relative time 0x098F. */
export function mdsTimes(o: Observation): { abs: number; rel: number } | undefined {
  const abs = o.attrs.find((a) => a.id === 0x0987);
  const rel = o.attrs.find((a) => a.id === 0x098f);
  const t = abs ? bcdTime(abs.value) : undefined;
  return t !== undefined && rel && rel.value.length >= 4 ? { abs: t, rel: rel.value.readUInt32BE(0) } : undefined;
}

export interface Numeric {
  /** Label if present and known, else the physio id (16-bit code). */
  code: number;
  physio: number;
  state: number;
  unit: number;
  value: FloatValue;
}

function nuValue(v: Buffer, at: number): Omit<Numeric, 'code'> {
  return { physio: v.readUInt16BE(at), state: v.readUInt16BE(at + 2), unit: v.readUInt16BE(at + 4), value: decodeFloat(v.readUInt32BE(at + 6)) };
}

/** The numerics of one observation: NU_VAL_OBS, NU_CMPD_VAL_OBS; the label resolves a generic physio id. */
export function numerics(o: Observation): Numeric[] | string {
  const out: Numeric[] = [];
  const label = o.attrs.find((a) => a.id === 0x0924);
  const labelCode = label && label.value.length >= 4 ? label.value.readUInt32BE(0) & 0xffff : undefined;
  for (const a of o.attrs) {
    if (a.id === 0x0950) {
      if (a.value.length < 10) return 'intellivue_bad_numeric';
      const n = nuValue(a.value, 0);
      out.push({ ...n, code: labelCode ?? n.physio });
    } else if (a.id === 0x094b) {
      if (a.value.length < 4) return 'intellivue_bad_numeric';
      const count = a.value.readUInt16BE(0);
      if (a.value.length < 4 + count * 10) return 'intellivue_bad_numeric';
      for (let i = 0; i < count; i++) {
        const n = nuValue(a.value, 4 + i * 10);
        out.push({ ...n, code: n.physio });
      }
    }
  }
  return out;
}

export interface DevAlarm {
  source: number;
  code: number;
  type: number;
  state: number;
  technical: boolean;
}

/** The DevAlarmList entries of one alert-monitor observation (0x0902 patient, 0x0904 technical). */
export function alarms(o: Observation): DevAlarm[] | string {
  const out: DevAlarm[] = [];
  for (const a of o.attrs) {
    if (a.id !== 0x0902 && a.id !== 0x0904) continue;
    try {
      const r = new Reader(a.value);
      const count = r.u16();
      const list = r.sub(r.u16());
      for (let i = 0; i < count; i++) {
        const source = list.u16();
        const code = list.u16();
        const type = list.u16();
        const state = list.u16();
        list.bytes(6);
        list.u16(); // alert_info_id
        list.bytes(list.u16());
        out.push({ source, code, type, state, technical: a.id === 0x0904 || (type & 0x0007) !== 0 });
      }
    } catch (e) {
      if (e instanceof Short) return 'intellivue_bad_alarm_list';
      throw e;
    }
  }
  return out;
}
