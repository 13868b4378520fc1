/**
 * Temperature Measurement (0x2A1C) and Intermediate Temperature (0x2A1E): a FLOAT in
 * Celsius or Fahrenheit, optional Date Time, optional temperature type (site).
 */
import { dateTime, float32 } from './bytes.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

const SITES = ['reserved', 'armpit', 'body', 'ear', 'finger', 'gastrointestinal_tract', 'mouth', 'rectum', 'toe', 'tympanum'] as const;

export function parseTemperature(b: Uint8Array): ParseResult {
  if (b.length < 1) return reject('too_short');
  const f = b[0]!;
  const fahrenheit = (f & 0x01) !== 0;
  const ts = (f & 0x02) !== 0;
  const type = (f & 0x04) !== 0;
  const need = 5 + (ts ? 7 : 0) + (type ? 1 : 0);
  if (b.length < need) return reject('too_short');
  const r: ProfileReading = { metric: 'body_temp', unit: fahrenheit ? '[degF]' : 'Cel', ...float32(b, 1) };
  let o = 5;
  if (ts) {
    const t = dateTime(b, o);
    if (t !== undefined) r.deviceTime = t;
    o += 7;
  }
  if (type) r.extra = { site: SITES[b[o]!] ?? 'reserved' };
  return { ok: true, readings: [r] };
}
