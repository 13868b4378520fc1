/**
 * Compact binary encoding of the readings of one unit (one priority class, a
 * contiguous sequence range). This is the plaintext that gets sealed; nothing here is
 * ever written in clear.
 *
 * Layout (version 1), integers as LEB128 varints, signed ones zigzag:
 *   u8 version | varint n | u8 unitFlags (bit0: times as float64)
 *   baseTime (varint ms, or f64)
 *   varint nSources, then per source: u8 deviceKind, str deviceId, str bed, u8 hasPatient, [str patientId]
 *   per reading:
 *     u8 f: bits0-2 value kind, bit3 deviceTime, bit4 extra, bit5 unit, bit6 quality mask, bit7 quality list
 *     varint source index | varint metric code | value
 *     [varint quality mask | u8 count + u8 index...]
 *     gatewayTime: zigzag delta from the previous reading (or f64)
 *     [deviceTime: zigzag delta from its gatewayTime (or f64)]
 *     [str unit when it differs from the catalogue unit]
 *     [varint nExtra, per entry: str key, u8 type, value]
 * The sequence number is not stored: reading i of a unit has seq firstSeq + i.
 * Strings are varint byte length + UTF-8.
 */
import { CATALOGUE, type MetricDef, metricByCode } from '../catalogue.js';
import {
  DEVICE_KINDS,
  type DeviceKind,
  type Extra,
  type PendingReading,
  PRIORITY_CLASSES,
  type PriorityClass,
  QUALITY_FLAGS,
  type QualityFlag,
  type Reading,
} from '../reading.js';

const VERSION = 1;
const KIND_INDEX = new Map<string, number>(DEVICE_KINDS.map((k, i) => [k, i]));
const QUALITY_INDEX = new Map<string, number>(QUALITY_FLAGS.map((q, i) => [q, i]));

export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

const V_INT = 0;
const V_DEC1 = 1;
const V_DEC2 = 2;
const V_DEC3 = 3;
const V_F32 = 4;
const V_F64 = 5;
const F_DEVTIME = 1 << 3;
const F_EXTRA = 1 << 4;
const F_UNIT = 1 << 5;
const F_QMASK = 1 << 6;
const F_QLIST = 1 << 7;

const X_FALSE = 0;
const X_TRUE = 1;
const X_INT = 2;
const X_F64 = 3;
const X_STR = 4;

const isTime = (t: number): boolean => Number.isSafeInteger(t) && t >= 0;

class Writer {
  buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  /** Unsigned varint of a non-negative safe integer. */
  uv(v: number): void {
    this.ensure(10);
    const b = this.buf;
    let p = this.pos;
    while (v >= 0x80) {
      b[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[p++] = v;
    this.pos = p;
  }
  /** Zigzag varint of a safe integer. */
  sv(v: number): void {
    this.uv(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uv(n);
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf8');
    this.pos += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  u8(): number {
    if (this.pos >= this.buf.length) throw new CodecError('unit truncated');
    return this.buf[this.pos++]!;
  }
  uv(): number {
    const b = this.buf;
    let p = this.pos;
    let result = 0;
    let mul = 1;
    for (;;) {
      if (p >= b.length) throw new CodecError('unit truncated');
      const byte = b[p++]!;
      result += (byte & 0x7f) * mul;
      if (byte < 0x80) break;
      mul *= 0x80;
      if (mul > 2 ** 63) throw new CodecError('varint too long');
    }
    this.pos = p;
    return result;
  }
  sv(): number {
    const u = this.uv();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }
  f32(): number {
    if (this.pos + 4 > this.buf.length) throw new CodecError('unit truncated');
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    if (this.pos + 8 > this.buf.length) throw new CodecError('unit truncated');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  str(): string {
    const n = this.uv();
    if (this.pos + n > this.buf.length) throw new CodecError('unit truncated');
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

function valueKind(v: number): number {
  if (Object.is(v, -0) || !Number.isFinite(v)) return V_F64;
  if (Number.isSafeInteger(v)) return V_INT;
  let r = Math.round(v * 10);
  if (r / 10 === v && Number.isSafeInteger(r)) return V_DEC1;
  r = Math.round(v * 100);
  if (r / 100 === v && Number.isSafeInteger(r)) return V_DEC2;
  r = Math.round(v * 1000);
  if (r / 1000 === v && Number.isSafeInteger(r)) return V_DEC3;
  if (Math.fround(v) === v) return V_F32;
  return V_F64;
}

function writeValue(w: Writer, kind: number, v: number): void {
  switch (kind) {
    case V_INT:
      w.sv(v);
      break;
    case V_DEC1:
      w.sv(Math.round(v * 10));
      break;
    case V_DEC2:
      w.sv(Math.round(v * 100));
      break;
    case V_DEC3:
      w.sv(Math.round(v * 1000));
      break;
    case V_F32:
      w.f32(v);
      break;
    default:
      w.f64(v);
  }
}

function readValue(r: Reader, kind: number): number {
  switch (kind) {
    case V_INT:
      return r.sv();
    case V_DEC1:
      return r.sv() / 10;
    case V_DEC2:
      return r.sv() / 100;
    case V_DEC3:
      return r.sv() / 1000;
    case V_F32:
      return r.f32();
    case V_F64:
      return r.f64();
    default:
      throw new CodecError(`bad value kind ${kind}`);
  }
}

/** Throws CodecError when a reading cannot be encoded (checked before a commit, per append). */
export function validateForEncoding(p: PendingReading): void {
  if (!KIND_INDEX.has(p.deviceKind)) throw new CodecError('unknown deviceKind');
  if (!(PRIORITY_CLASSES as readonly string[]).includes(p.priorityClass)) throw new CodecError('unknown priority');
  if (!Object.hasOwn(CATALOGUE, p.metric)) throw new CodecError('unknown metric');
  if (typeof p.deviceId !== 'string' || typeof p.bed !== 'string') throw new CodecError('deviceId and bed must be strings');
  if (p.patientId !== undefined && typeof p.patientId !== 'string') throw new CodecError('patientId must be a string');
  if (typeof p.value !== 'number') throw new CodecError('value must be a number');
  if (typeof p.gatewayTime !== 'number' || !Number.isFinite(p.gatewayTime)) throw new CodecError('gatewayTime must be a finite number');
  if (p.deviceTime !== undefined && (typeof p.deviceTime !== 'number' || !Number.isFinite(p.deviceTime))) {
    throw new CodecError('deviceTime must be a finite number');
  }
  if (typeof p.unit !== 'string') throw new CodecError('unit must be a string');
  if (!Array.isArray(p.quality)) throw new CodecError('quality must be an array');
  for (const q of p.quality) if (!QUALITY_INDEX.has(q)) throw new CodecError('unknown quality flag');
  if (p.extra !== undefined) {
    if (typeof p.extra !== 'object' || p.extra === null) throw new CodecError('extra must be an object');
    for (const v of Object.values(p.extra)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') throw new CodecError('extra values must be string, number or boolean');
    }
  }
}

interface Source {
  kind: number;
  deviceId: string;
  bed: string;
  patientId: string | undefined;
  index: number;
}

/** Encodes `readings` (one class, in sequence order). */
export function encodeUnit(readings: readonly PendingReading[]): Buffer {
  const n = readings.length;
  const w = new Writer(64 + n * 16);
  let timesFloat = false;
  for (const p of readings) {
    if (!isTime(p.gatewayTime) || (p.deviceTime !== undefined && !Number.isSafeInteger(p.deviceTime))) {
      timesFloat = true;
      break;
    }
  }
  // Sources: (deviceKind, deviceId, bed, patientId) tuples, numbered in order of appearance.
  const byDevice = new Map<string, Source[]>();
  const sources: Source[] = [];
  const srcIdx = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const p = readings[i]!;
    const kind = KIND_INDEX.get(p.deviceKind)!;
    let list = byDevice.get(p.deviceId);
    if (!list) {
      list = [];
      byDevice.set(p.deviceId, list);
    }
    let s: Source | undefined;
    for (const c of list) {
      if (c.kind === kind && c.bed === p.bed && c.patientId === p.patientId) {
        s = c;
        break;
      }
    }
    if (!s) {
      s = { kind, deviceId: p.deviceId, bed: p.bed, patientId: p.patientId, index: sources.length };
      list.push(s);
      sources.push(s);
    }
    srcIdx[i] = s.index;
  }
  w.u8(VERSION);
  w.uv(n);
  w.u8(timesFloat ? 1 : 0);
  const base = n > 0 ? readings[0]!.gatewayTime : 0;
  if (timesFloat) w.f64(base);
  else w.uv(base);
  w.uv(sources.length);
  for (const s of sources) {
    w.u8(s.kind);
    w.str(s.deviceId);
    w.str(s.bed);
    if (s.patientId === undefined) w.u8(0);
    else {
      w.u8(1);
      w.str(s.patientId);
    }
  }
  let prev = base;
  for (let i = 0; i < n; i++) {
    const p = readings[i]!;
    const def = CATALOGUE[p.metric];
    const vk = valueKind(p.value);
    let f = vk;
    if (p.deviceTime !== undefined) f |= F_DEVTIME;
    const extraKeys = p.extra ? Object.keys(p.extra) : undefined;
    if (extraKeys && p.extra) f |= F_EXTRA;
    if (p.unit !== def.unit) f |= F_UNIT;
    let qmask = 0;
    const q = p.quality;
    if (q.length > 0) {
      let canonical = true;
      let last = -1;
      for (const flag of q) {
        const qi = QUALITY_INDEX.get(flag)!;
        if (qi <= last) canonical = false;
        last = qi;
        qmask |= 1 << qi;
      }
      f |= canonical ? F_QMASK : F_QLIST;
    }
    w.u8(f);
    w.uv(srcIdx[i]!);
    w.uv(def.code);
    writeValue(w, vk, p.value);
    if (f & F_QMASK) w.uv(qmask);
    else if (f & F_QLIST) {
      w.u8(q.length);
      for (const flag of q) w.u8(QUALITY_INDEX.get(flag)!);
    }
    if (timesFloat) w.f64(p.gatewayTime);
    else w.sv(p.gatewayTime - prev);
    prev = p.gatewayTime;
    if (p.deviceTime !== undefined) {
      if (timesFloat) w.f64(p.deviceTime);
      else w.sv(p.deviceTime - p.gatewayTime);
    }
    if (f & F_UNIT) w.str(p.unit);
    if (extraKeys && p.extra) {
      w.uv(extraKeys.length);
      for (const k of extraKeys) {
        const v = p.extra[k]!;
        w.str(k);
        if (typeof v === 'boolean') w.u8(v ? X_TRUE : X_FALSE);
        else if (typeof v === 'number') {
          if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
            w.u8(X_INT);
            w.sv(v);
          } else {
            w.u8(X_F64);
            w.f64(v);
          }
        } else {
          w.u8(X_STR);
          w.str(v);
        }
      }
    }
  }
  return w.bytes();
}

export interface UnitContext {
  gatewayId: string;
  priorityClass: PriorityClass;
  firstSeq: number;
}

/** One (deviceKind, deviceId, bed, patientId) tuple of a unit: readings refer to it by index. */
export interface UnitSource {
  readonly deviceKind: DeviceKind;
  readonly deviceId: string;
  readonly bed: string;
  readonly patientId: string | undefined;
}

/**
 * A decoded unit as columns: what the unit stores, without a Reading object per reading. The
 * JSON v1 writer serialises it directly (forwarder/formats/json-v1.ts); readingsOf() makes the
 * Reading objects for the formats that want them. Reading i has seq firstSeq + i.
 */
export interface UnitColumns extends UnitContext {
  readonly n: number;
  readonly sources: readonly UnitSource[];
  /** Per reading: index into sources. */
  readonly source: Uint32Array;
  readonly metric: readonly MetricDef[];
  /** NaN when the reading carries no number (a value-absent quality flag says why). */
  readonly value: Float64Array;
  /** Shared between readings with the same flags: never mutate. */
  readonly quality: readonly (readonly QualityFlag[])[];
  readonly gatewayTime: Float64Array;
  /** Valid where hasDeviceTime[i] is 1. */
  readonly deviceTime: Float64Array;
  readonly hasDeviceTime: Uint8Array;
  readonly unit: readonly string[];
  readonly extra: readonly (Extra | undefined)[];
}

const NO_QUALITY: readonly QualityFlag[] = [];
/** The flags of each quality mask seen, made once (at most 2^QUALITY_FLAGS.length entries). */
const maskFlags = new Map<number, readonly QualityFlag[]>();
function flagsOfMask(mask: number): readonly QualityFlag[] {
  // Bits beyond the known flags are ignored, as they always were.
  const m = mask & ((1 << QUALITY_FLAGS.length) - 1);
  let q = maskFlags.get(m);
  if (q === undefined) {
    const list: QualityFlag[] = [];
    for (let qi = 0; qi < QUALITY_FLAGS.length; qi++) if (m & (1 << qi)) list.push(QUALITY_FLAGS[qi]!);
    q = list;
    maskFlags.set(m, q);
  }
  return q;
}

/** Decodes a unit into columns. Throws CodecError on malformed input. */
export function decodeUnitColumns(buf: Buffer, ctx: UnitContext, expectedCount?: number): UnitColumns {
  const r = new Reader(buf);
  const version = r.u8();
  if (version !== VERSION) throw new CodecError(`unknown unit version ${version}`);
  const n = r.uv();
  if (expectedCount !== undefined && n !== expectedCount) throw new CodecError('unit count mismatch');
  // Every reading takes at least four bytes: a count beyond that is damage, not an allocation to make.
  if (n > buf.length) throw new CodecError('bad reading count');
  const timesFloat = (r.u8() & 1) === 1;
  const base = timesFloat ? r.f64() : r.uv();
  const ns = r.uv();
  if (ns > n) throw new CodecError('bad source count');
  const sources: UnitSource[] = [];
  for (let i = 0; i < ns; i++) {
    const kind = DEVICE_KINDS[r.u8()];
    if (kind === undefined) throw new CodecError('bad device kind');
    const deviceId = r.str();
    const bed = r.str();
    const patientId = r.u8() === 1 ? r.str() : undefined;
    sources.push({ deviceKind: kind, deviceId, bed, patientId });
  }
  const source = new Uint32Array(n);
  const metric = new Array<MetricDef>(n);
  const value = new Float64Array(n);
  const quality = new Array<readonly QualityFlag[]>(n);
  const gatewayTime = new Float64Array(n);
  const deviceTime = new Float64Array(n);
  const hasDeviceTime = new Uint8Array(n);
  const unit = new Array<string>(n);
  const extra = new Array<Extra | undefined>(n);
  let prev = base;
  for (let i = 0; i < n; i++) {
    const f = r.u8();
    const si = r.uv();
    if (si >= ns) throw new CodecError('bad source index');
    source[i] = si;
    const def = metricByCode(r.uv());
    if (!def) throw new CodecError('unknown metric code');
    metric[i] = def;
    value[i] = readValue(r, f & 7);
    if (f & F_QMASK) quality[i] = flagsOfMask(r.uv());
    else if (f & F_QLIST) {
      const c = r.u8();
      const list: QualityFlag[] = [];
      for (let j = 0; j < c; j++) {
        const flag = QUALITY_FLAGS[r.u8()];
        if (flag === undefined) throw new CodecError('bad quality flag');
        list.push(flag);
      }
      quality[i] = list;
    } else quality[i] = NO_QUALITY;
    const gt = timesFloat ? r.f64() : prev + r.sv();
    gatewayTime[i] = gt;
    prev = gt;
    if (f & F_DEVTIME) {
      deviceTime[i] = timesFloat ? r.f64() : gt + r.sv();
      hasDeviceTime[i] = 1;
    }
    unit[i] = f & F_UNIT ? r.str() : def.unit;
    if (f & F_EXTRA) {
      const ne = r.uv();
      const x: Record<string, string | number | boolean> = {};
      for (let j = 0; j < ne; j++) {
        const name = r.str();
        const t = r.u8();
        x[name] = t === X_FALSE ? false : t === X_TRUE ? true : t === X_INT ? r.sv() : t === X_F64 ? r.f64() : t === X_STR ? r.str() : badExtra();
      }
      extra[i] = x as Extra;
    }
  }
  if (r.pos !== buf.length) throw new CodecError('trailing bytes in unit');
  return { ...ctx, n, sources, source, metric, value, quality, gatewayTime, deviceTime, hasDeviceTime, unit, extra };
}

/** Reading i of a decoded unit as a Reading object of its own (its quality and extra are copies). */
export function readingAt(c: UnitColumns, i: number): Reading {
  const s = c.sources[c.source[i]!]!;
  // One shape for every reading (absent fields undefined), as normalise() makes them.
  return {
    gatewayId: c.gatewayId,
    seq: c.firstSeq + i,
    deviceId: s.deviceId,
    deviceKind: s.deviceKind,
    bed: s.bed,
    patientId: s.patientId,
    metric: c.metric[i]!.id,
    value: c.value[i]!,
    unit: c.unit[i]!,
    deviceTime: c.hasDeviceTime[i] === 1 ? c.deviceTime[i]! : undefined,
    gatewayTime: c.gatewayTime[i]!,
    priorityClass: c.priorityClass,
    quality: [...c.quality[i]!],
    extra: c.extra[i],
  };
}

/** Readings [from, to) of a decoded unit as Reading objects. */
export function readingsOf(c: UnitColumns, from = 0, to = c.n): Reading[] {
  const out = new Array<Reading>(to - from);
  for (let i = from; i < to; i++) out[i - from] = readingAt(c, i);
  return out;
}

/** Decodes a unit into Readings (seq = firstSeq + index). Throws CodecError on malformed input. */
export function decodeUnit(buf: Buffer, ctx: UnitContext, expectedCount?: number): Reading[] {
  return readingsOf(decodeUnitColumns(buf, ctx, expectedCount));
}

function badExtra(): never {
  throw new CodecError('bad extra type');
}
