/**
 * SenML (RFC 8428) JSON packs:
 *   [{"bn":"urn:dev:mac:0024befffe804ff1:","bt":1.718e9,"bu":"%"},{"n":"spo2","v":97},{"n":"pr","u":"beat/min","v":72}]
 * Base fields (bn bt bu bv bver) carry over to later records. Names map to metrics through
 * `names`, or are metric ids themselves; units map to UCUM (senml-units.ts). Records without
 * a numeric value (vs vb vd, sums) are skipped. Fields ending in '_' must be understood
 * (RFC 8428 §4.4), so a pack with one is refused.
 */
import { isMetricId } from '../../../catalogue.js';
import type { SenmlDecoderConfig } from '../config.js';
import { senmlUnit } from './senml-units.js';
import { type Decoded, type Decoder, fail, parseJsonPayload } from './types.js';

/** Times below 2**28 s are relative to now (RFC 8428 §4.5.3). */
const RELATIVE_LIMIT = 2 ** 28;
const MIN_TIME = 946_684_800_000; // 2000-01-01
const MAX_TIME = 7_258_118_400_000; // 2200-01-01
const SENML_VERSION = 10;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

export function senmlDecoder(cfg: SenmlDecoderConfig): Decoder {
  const names = new Map(Object.entries(cfg.names));
  const metricFor = (full: string, n: string): string | undefined =>
    names.get(full) ?? names.get(n) ?? (isMetricId(n) ? n : isMetricId(full) ? full : undefined);

  return (payload, now) => {
    const parsed = parseJsonPayload(payload);
    if (!parsed.ok) return fail(parsed.reason);
    const doc = parsed.doc;
    if (!Array.isArray(doc) || doc.length === 0) return fail('bad_senml');
    let bn = '';
    let bt = 0;
    let bu: string | undefined;
    let bv = 0;
    const out: Decoded[] = [];
    for (const rec of doc as unknown[]) {
      if (rec === null || typeof rec !== 'object' || Array.isArray(rec)) return fail('bad_senml');
      const r = rec as Record<string, unknown>;
      for (const k of Object.keys(r)) if (k.endsWith('_')) return fail('unsupported_senml');
      if (r.bver !== undefined) {
        if (!isNum(r.bver) || !Number.isInteger(r.bver) || r.bver < 1) return fail('bad_senml');
        if (r.bver > SENML_VERSION) return fail('unsupported_senml');
      }
      if (r.bn !== undefined) {
        if (!isStr(r.bn)) return fail('bad_senml');
        bn = r.bn;
      }
      if (r.bt !== undefined) {
        if (!isNum(r.bt)) return fail('bad_senml');
        bt = r.bt;
      }
      if (r.bu !== undefined) {
        if (!isStr(r.bu)) return fail('bad_senml');
        bu = r.bu;
      }
      if (r.bv !== undefined) {
        if (!isNum(r.bv)) return fail('bad_senml');
        bv = r.bv;
      }
      const { n, u, v, t } = r;
      if ((n !== undefined && !isStr(n)) || (u !== undefined && !isStr(u)) || (t !== undefined && !isNum(t))) return fail('bad_senml');
      if (v === undefined) continue; // string, boolean, data or sum record: not a reading
      if (typeof v !== 'number') return fail('bad_senml');
      const name = n ?? '';
      const full = bn + name;
      let metric: string | undefined;
      if (full !== '') {
        metric = metricFor(full, name);
        if (metric === undefined) {
          if (cfg.ignoreUnknown) continue;
          return fail('unknown_name');
        }
      }
      const unitIn = u ?? bu;
      let value = v + bv;
      const item: Decoded = { value };
      if (metric !== undefined) item.metric = metric;
      if (unitIn !== undefined) {
        if (unitIn.length === 0 || unitIn.length > 32) return fail('bad_unit');
        const m = senmlUnit(unitIn);
        item.unit = m.unit;
        if (m.convert) {
          value = m.convert(value);
          item.converted = true;
        }
      }
      if (!Number.isFinite(value)) return fail('not_finite');
      item.value = value;
      const time = bt + (t ?? 0);
      if (time !== 0) {
        const ms = time < RELATIVE_LIMIT ? now + time * 1000 : time * 1000;
        if (!Number.isFinite(ms) || ms < MIN_TIME || ms > MAX_TIME) return fail('bad_time');
        item.time = ms;
      }
      out.push(item);
    }
    return out.length > 0 ? { ok: true, readings: out } : fail('no_readings');
  };
}
