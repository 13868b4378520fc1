/**
 * Glucose Measurement (0x2A18): sequence number, base time, optional time offset, optional
 * concentration (SFLOAT, kg/L or mol/L) with type (low nibble) and sample location (high
 * nibble), optional sensor status annunciation.
 */
import { dateTime, s16, sfloat, u16 } from './bytes.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

const TYPES = [
  'reserved',
  'capillary_whole_blood',
  'capillary_plasma',
  'venous_whole_blood',
  'venous_plasma',
  'arterial_whole_blood',
  'arterial_plasma',
  'undetermined_whole_blood',
  'undetermined_plasma',
  'interstitial_fluid',
  'control_solution',
] as const;
const LOCATIONS: Readonly<Record<number, string>> = { 1: 'finger', 2: 'alternate_site_test', 3: 'earlobe', 4: 'control_solution', 15: 'not_available' };
/** Annunciation bits 1-11 (all but "battery low") say the result cannot be trusted. */
const STATUS_BAD = 0x0ffe;

export function parseGlucose(b: Uint8Array): ParseResult {
  if (b.length < 1) return reject('too_short');
  const f = b[0]!;
  const hasOffset = (f & 0x01) !== 0;
  const hasConc = (f & 0x02) !== 0;
  const molar = (f & 0x04) !== 0;
  const hasStatus = (f & 0x08) !== 0;
  const need = 10 + (hasOffset ? 2 : 0) + (hasConc ? 3 : 0) + (hasStatus ? 2 : 0);
  if (b.length < need) return reject('too_short');
  const seq = u16(b, 1);
  let deviceTime = dateTime(b, 3);
  let o = 10;
  if (hasOffset) {
    if (deviceTime !== undefined) deviceTime += s16(b, o) * 60_000;
    o += 2;
  }
  // A record without a concentration carries nothing wardgate can store.
  if (!hasConc) return { ok: true, readings: [] };
  const value = sfloat(b, o);
  const typeLoc = b[o + 2]!;
  o += 3;
  const type = typeLoc & 0x0f;
  const location = typeLoc >> 4;
  const extra: Record<string, string | number | boolean> = {
    sequence: seq,
    sampleType: TYPES[type] ?? 'reserved',
    sampleLocation: LOCATIONS[location] ?? 'reserved',
    contextFollows: (f & 0x10) !== 0,
  };
  // The sample type selects the MDC code: capillary whole blood 160184, then +4 per type.
  if (type >= 1 && type <= 8) extra.mdcCode = 160184 + 4 * (type - 1);
  const r: ProfileReading = { metric: 'glucose', unit: molar ? 'mol/L' : 'kg/L', ...value, extra };
  if (hasStatus) {
    const s = u16(b, o);
    extra.sensorStatus = s;
    if (s & STATUS_BAD) r.questionable = true;
  }
  if (deviceTime !== undefined) r.deviceTime = deviceTime;
  return { ok: true, readings: [r] };
}
