import { isUtf8 } from 'node:buffer';

/**
 * What every payload decoder returns. Decoders are pure functions of (payload, now): they
 * never throw, never log, and never return a non-finite value.
 */

/** One value found in a payload; the rule supplies what the payload does not. */
export interface Decoded {
  metric?: string;
  value: number;
  unit?: string;
  /** Device time, ms since the epoch. */
  time?: number;
  /** The decoder converted the value into another unit (SenML unit mapping). */
  converted?: boolean;
}

/** Why a payload did not decode. A small closed set: it is a metric label. */
export const DECODE_FAILURES = [
  'empty',
  'not_utf8',
  'bad_json',
  'missing_field',
  'not_a_number',
  'not_finite',
  'bad_unit',
  'bad_time',
  'bad_senml',
  'unsupported_senml',
  'unknown_name',
  'no_readings',
  'bad_text',
  'bad_length',
] as const;
export type DecodeFailure = (typeof DECODE_FAILURES)[number];

export type DecodeResult = { ok: true; readings: Decoded[] } | { ok: false; reason: DecodeFailure };

export type Decoder = (payload: Buffer, now: number) => DecodeResult;

export const fail = (reason: DecodeFailure): DecodeResult => ({ ok: false, reason });

/** Parses a UTF-8 JSON payload, or says why it is not one (empty, not_utf8, bad_json). */
export function parseJsonPayload(payload: Buffer): { ok: true; doc: unknown } | { ok: false; reason: DecodeFailure } {
  if (payload.length === 0) return { ok: false, reason: 'empty' };
  if (!isUtf8(payload)) return { ok: false, reason: 'not_utf8' };
  try {
    return { ok: true, doc: JSON.parse(payload.toString('utf8')) as unknown };
  } catch {
    return { ok: false, reason: 'bad_json' };
  }
}
