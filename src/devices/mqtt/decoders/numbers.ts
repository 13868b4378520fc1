/** Strict number and time parsing shared by the text and JSON decoders. */

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number from a JSON number or a strictly numeric string; undefined otherwise (NaN/Infinity included). */
export function toNumber(v: unknown): number | 'not_a_number' | 'not_finite' {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && v.length <= 64 && NUMERIC.test(v)) n = Number(v);
  else return 'not_a_number';
  return Number.isFinite(n) ? n : 'not_finite';
}

/** Numbers at or above this are taken as milliseconds by the 'auto' time format (1e11 ms = 1973). */
const MS_THRESHOLD = 1e11;

/** Latest and earliest device time accepted: year 2000 to 2200. Outside it the time is refused. */
const MIN_TIME = 946_684_800_000;
const MAX_TIME = 7_258_118_400_000;

export type TimeFormat = 'auto' | 'ms' | 's' | 'iso';

/** Device time in ms since the epoch, or 'bad_time'. */
export function toTime(v: unknown, format: TimeFormat): number | 'bad_time' {
  let ms: number;
  if (typeof v === 'number' && format !== 'iso') {
    ms = format === 'ms' || (format === 'auto' && Math.abs(v) >= MS_THRESHOLD) ? v : v * 1000;
  } else if (typeof v === 'string' && (format === 'iso' || format === 'auto') && v.length <= 64 && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    ms = Date.parse(v);
  } else {
    return 'bad_time';
  }
  return Number.isFinite(ms) && ms >= MIN_TIME && ms <= MAX_TIME ? ms : 'bad_time';
}
