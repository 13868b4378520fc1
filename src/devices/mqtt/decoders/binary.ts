/**
 * Fixed-layout binary payloads, described in config:
 *   length: 7
 *   fields: [{offset: 0, type: uint8, metric: spo2}, {offset: 1, type: uint16be, metric: heart_rate, invalid: 65535}]
 *   time:   {offset: 3, type: uint32be, unit: s}
 * value = raw * scale + add; a raw value equal to `invalid` skips the field.
 */
import type { BinaryDecoderConfig, BinaryType } from '../config.js';
import { BINARY_SIZE } from '../config.js';
import { type Decoded, type Decoder, fail } from './types.js';

const MIN_TIME = 946_684_800_000; // 2000-01-01
const MAX_TIME = 7_258_118_400_000; // 2200-01-01

type TimeType = NonNullable<BinaryDecoderConfig['time']>['type'];

function read(buf: Buffer, offset: number, type: BinaryType | TimeType): number {
  switch (type) {
    case 'uint8':
      return buf.readUInt8(offset);
    case 'int8':
      return buf.readInt8(offset);
    case 'uint16be':
      return buf.readUInt16BE(offset);
    case 'uint16le':
      return buf.readUInt16LE(offset);
    case 'int16be':
      return buf.readInt16BE(offset);
    case 'int16le':
      return buf.readInt16LE(offset);
    case 'uint32be':
      return buf.readUInt32BE(offset);
    case 'uint32le':
      return buf.readUInt32LE(offset);
    case 'int32be':
      return buf.readInt32BE(offset);
    case 'int32le':
      return buf.readInt32LE(offset);
    case 'float32be':
      return buf.readFloatBE(offset);
    case 'float32le':
      return buf.readFloatLE(offset);
    case 'float64be':
      return buf.readDoubleBE(offset);
    case 'float64le':
      return buf.readDoubleLE(offset);
    case 'uint64be':
      return Number(buf.readBigUInt64BE(offset));
    case 'uint64le':
      return Number(buf.readBigUInt64LE(offset));
  }
}

export function binaryDecoder(cfg: BinaryDecoderConfig): Decoder {
  const ends = cfg.fields.map((f) => f.offset + BINARY_SIZE[f.type]);
  if (cfg.time) ends.push(cfg.time.offset + BINARY_SIZE[cfg.time.type]);
  const minLength = Math.max(...ends);
  const fields = cfg.fields;
  const time = cfg.time;

  return (payload) => {
    if (payload.length === 0) return fail('empty');
    if (cfg.length !== undefined ? payload.length !== cfg.length : payload.length < minLength) return fail('bad_length');
    let ms: number | undefined;
    if (time) {
      const raw = read(payload, time.offset, time.type);
      const t = time.unit === 's' ? raw * 1000 : raw;
      if (!Number.isFinite(t) || t < MIN_TIME || t > MAX_TIME) return fail('bad_time');
      ms = t;
    }
    const out: Decoded[] = [];
    for (const f of fields) {
      const raw = read(payload, f.offset, f.type);
      if (f.invalid !== undefined && raw === f.invalid) continue;
      const value = raw * f.scale + f.add;
      if (!Number.isFinite(value)) return fail('not_finite');
      const item: Decoded = { value };
      if (f.metric !== undefined) item.metric = f.metric;
      if (f.unit !== undefined) item.unit = f.unit;
      if (ms !== undefined) item.time = ms;
      out.push(item);
    }
    return out.length > 0 ? { ok: true, readings: out } : fail('no_readings');
  };
}
