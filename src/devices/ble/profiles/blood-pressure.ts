/**
 * Blood Pressure Measurement (0x2A35) and Intermediate Cuff Pressure (0x2A36): systolic,
 * diastolic and mean as SFLOATs in mmHg or kPa, then optional Date Time, pulse rate,
 * user id and measurement status, as the flags announce. The intermediate cuff pressure
 * carries the current cuff pressure in the systolic field (the other two are unused).
 */
import { dateTime, sfloat, u16 } from './bytes.js';
import { type ParseResult, type ProfileReading, reject } from './types.js';

interface Layout {
  kpa: boolean;
  hasTime: boolean;
  hasPulse: boolean;
  hasUser: boolean;
  hasStatus: boolean;
}

function layout(b: Uint8Array): Layout | undefined {
  if (b.length < 1) return undefined;
  const f = b[0]!;
  const l = { kpa: (f & 0x01) !== 0, hasTime: (f & 0x02) !== 0, hasPulse: (f & 0x04) !== 0, hasUser: (f & 0x08) !== 0, hasStatus: (f & 0x10) !== 0 };
  const need = 7 + (l.hasTime ? 7 : 0) + (l.hasPulse ? 2 : 0) + (l.hasUser ? 1 : 0) + (l.hasStatus ? 2 : 0);
  return b.length < need ? undefined : l;
}

/**
 * Measurement status: body movement (bit0), cuff too loose (bit1), irregular pulse (bit2),
 * pulse rate out of range (bits 3-4: 1 over, 2 under), improper position (bit5).
 */
function statusIsQuestionable(s: number): boolean {
  const range = (s >> 3) & 0x03;
  return (s & 0x27) !== 0 || range === 1 || range === 2;
}

function tail(b: Uint8Array, l: Layout, readings: ProfileReading[]): ProfileReading[] {
  let o = 7;
  let deviceTime: number | undefined;
  const extra: Record<string, number> = {};
  let questionable = false;
  if (l.hasTime) {
    deviceTime = dateTime(b, o);
    o += 7;
  }
  let pulse: ProfileReading | undefined;
  if (l.hasPulse) {
    pulse = { metric: 'pulse_rate_nibp', unit: '/min', ...sfloat(b, o) };
    o += 2;
  }
  if (l.hasUser) {
    // 0xFF is "unknown user"; the index is the cuff's own numbering, not a patient id.
    extra.cuffUser = b[o]!;
    o += 1;
  }
  if (l.hasStatus) {
    const s = u16(b, o);
    extra.measurementStatus = s;
    questionable = statusIsQuestionable(s);
  }
  if (pulse) readings.push(pulse);
  for (const r of readings) {
    if (deviceTime !== undefined) r.deviceTime = deviceTime;
    if (questionable) r.questionable = true;
    if (Object.keys(extra).length > 0) r.extra = { ...extra };
  }
  return readings;
}

export function parseBloodPressure(b: Uint8Array): ParseResult {
  const l = layout(b);
  if (!l) return reject('too_short');
  const unit = l.kpa ? 'kPa' : 'mm[Hg]';
  const readings: ProfileReading[] = [
    { metric: 'nibp_sys', unit, ...sfloat(b, 1) },
    { metric: 'nibp_dia', unit, ...sfloat(b, 3) },
    { metric: 'nibp_mean', unit, ...sfloat(b, 5) },
  ];
  return { ok: true, readings: tail(b, l, readings) };
}

export function parseIntermediateCuffPressure(b: Uint8Array): ParseResult {
  const l = layout(b);
  if (!l) return reject('too_short');
  const readings: ProfileReading[] = [{ metric: 'nibp_cuff', unit: l.kpa ? 'kPa' : 'mm[Hg]', ...sfloat(b, 1) }];
  return { ok: true, readings: tail(b, l, readings) };
}
