/**
 * Profile readings -> ReadingInputs for the pipeline. A special value (NaN, NRes, +/-INF,
 * reserved) has no number: it becomes a reading of its metric with no number (value NaN, null
 * in JSON v1, dataAbsentReason in FHIR) and the quality flag saying which special it was, and
 * is counted (`reading_flagged{flag="special_<kind>"}`).
 */
import type { QualityFlag, ReadingInput, ValueAbsentFlag } from '../../reading.js';
import type { Registration } from './allow-list.js';
import type { SpecialValue } from './profiles/ieee11073.js';
import type { ProfileReading } from './profiles/types.js';
import { type ReadingBase, readingBase } from './status-readings.js';

export interface Converted {
  inputs: ReadingInput[];
  specials: SpecialValue[];
}

/** The quality flag of each IEEE 11073 special value. */
const SPECIAL_FLAG: Readonly<Record<SpecialValue, ValueAbsentFlag>> = {
  nan: 'value_nan',
  nres: 'value_nres',
  pos_inf: 'value_positive_infinity',
  neg_inf: 'value_negative_infinity',
  reserved: 'value_reserved',
};

export function toInputs(rs: readonly ProfileReading[], address: string, reg: Registration, priorityClass: 'vital' | 'status'): Converted {
  const inputs: ReadingInput[] = [];
  const specials = appendInputs(inputs, rs, readingBase(address, reg), priorityClass) ?? [];
  return { inputs, specials };
}

/**
 * Appends the inputs of `rs` to `out` (the adapter's batch: no array per notification) and
 * returns the special values met, or null when there was none (the usual case). Each input is
 * one object literal of a fixed shape: arrays and the quality list only when needed.
 */
export function appendInputs(out: ReadingInput[], rs: readonly ProfileReading[], base: ReadingBase, priorityClass: 'vital' | 'status'): SpecialValue[] | null {
  let specials: SpecialValue[] | null = null;
  for (const r of rs) {
    let quality: QualityFlag[] | undefined;
    let value: number;
    if ('value' in r) value = r.value;
    else {
      if (specials === null) specials = [];
      specials.push(r.special);
      quality = [SPECIAL_FLAG[r.special]];
      value = NaN;
    }
    const input: ReadingInput = {
      deviceId: base.deviceId,
      deviceKind: base.deviceKind,
      bed: base.bed,
      metric: r.metric,
      value,
      unit: r.unit,
      priorityClass: r.metric === 'battery_level' ? 'status' : priorityClass,
    };
    if (base.patientId !== undefined) input.patientId = base.patientId;
    if (r.deviceTime !== undefined) input.deviceTime = r.deviceTime;
    if (r.questionable) {
      if (quality === undefined) quality = [];
      quality.push('questionable');
    }
    if (quality !== undefined) input.quality = quality;
    if (r.extra !== undefined) input.extra = r.extra;
    out.push(input);
  }
  return specials;
}
