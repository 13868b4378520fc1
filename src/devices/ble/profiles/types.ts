/**
 * What a profile parser returns: the readings its bytes encode, or why it refused them.
 * Parsers are pure (bytes in, result out) and never throw.
 */
import type { MetricId } from '../../../catalogue.js';
import type { Extra } from '../../../reading.js';
import type { SpecialValue } from './ieee11073.js';

export interface ProfileReadingBase {
  metric: MetricId;
  /** Unit as the device sent it (UCUM); the pipeline converts into the catalogue unit. */
  unit: string;
  /** Device timestamp, ms since the epoch, when the bytes carried a usable one. */
  deviceTime?: number;
  /** The device itself marked the measurement as questionable (status bits). */
  questionable?: boolean;
  extra?: Extra;
}

/** A number, or a special value (a quality state that must never become a number). */
export type ProfileReading = ProfileReadingBase & ({ value: number } | { special: SpecialValue });

export type ParseResult = { ok: true; readings: ProfileReading[] } | { ok: false; reason: string };

/** Parses one characteristic value. Must not throw. */
export type ProfileParser = (bytes: Uint8Array) => ParseResult;

export const reject = (reason: string): ParseResult => ({ ok: false, reason });
