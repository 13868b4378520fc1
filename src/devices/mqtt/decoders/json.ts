/**
 * JSON payloads with configured field paths:
 *   {"spo2": 97, "pr": 72, "ts": 1718000000}   fields: [{value: spo2, metric: spo2}, {value: pr, metric: pulse_rate_oximeter}], time: ts
 */
import type { JsonDecoderConfig } from '../config.js';
import { toNumber, toTime } from './numbers.js';
import { compilePath, getPath, type PathStep } from './path.js';
import { type Decoded, type Decoder, fail, parseJsonPayload } from './types.js';

interface Field {
  value: PathStep[];
  unitPath?: PathStep[];
  metric?: string;
  unit?: string;
  optional: boolean;
}

/** Builds the decoder; throws PathError for a bad path (config validation catches it first). */
export function jsonDecoder(cfg: JsonDecoderConfig): Decoder {
  const fields: Field[] = cfg.fields.map((f) => {
    const out: Field = { value: compilePath(f.value), optional: f.optional };
    if (f.unitPath !== undefined) out.unitPath = compilePath(f.unitPath);
    if (f.metric !== undefined) out.metric = f.metric;
    if (f.unit !== undefined) out.unit = f.unit;
    return out;
  });
  const timePath = cfg.time !== undefined ? compilePath(cfg.time) : undefined;
  const timeFormat = cfg.timeFormat;

  return (payload) => {
    const parsed = parseJsonPayload(payload);
    if (!parsed.ok) return fail(parsed.reason);
    const doc = parsed.doc;
    let time: number | undefined;
    if (timePath) {
      const t = getPath(doc, timePath);
      if (t !== undefined && t !== null) {
        const ms = toTime(t, timeFormat);
        if (ms === 'bad_time') return fail('bad_time');
        time = ms;
      }
    }
    const out: Decoded[] = [];
    for (const f of fields) {
      const raw = getPath(doc, f.value);
      if (raw === undefined || raw === null) {
        if (f.optional) continue;
        return fail('missing_field');
      }
      const value = toNumber(raw);
      if (typeof value === 'string') return fail(value);
      let unit = f.unit;
      if (f.unitPath) {
        const u = getPath(doc, f.unitPath);
        if (u !== undefined && u !== null) {
          if (typeof u !== 'string' || u.length === 0 || u.length > 32) return fail('bad_unit');
          unit = u;
        }
      }
      const item: Decoded = { value };
      if (f.metric !== undefined) item.metric = f.metric;
      if (unit !== undefined) item.unit = unit;
      if (time !== undefined) item.time = time;
      out.push(item);
    }
    return out.length > 0 ? { ok: true, readings: out } : fail('no_readings');
  };
}
