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
import { readingBase } from './status-readings.js';

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

export function toInputs(rs: readonly ProfileReading[], address: string, reg: Registration, priority: 'vital' | 'status'): Converted {
  const base = readingBase(address, reg);
  const inputs: ReadingInput[] = [];
  const specials: SpecialValue[] = [];
  for (const r of rs) {
    const quality: QualityFlag[] = [];
    let value: number;
    if ('value' in r) value = r.value;
    else {
      specials.push(r.special);
      quality.push(SPECIAL_FLAG[r.special]);
      value = NaN;
    }
    const input: ReadingInput = { ...base, metric: r.metric, value, unit: r.unit, priorityClass: r.metric === 'battery_level' ? 'status' : priority };
    if (r.deviceTime !== undefined) input.deviceTime = r.deviceTime;
    if (r.questionable) quality.push('questionable');
    if (quality.length > 0) input.quality = quality;
    if (r.extra !== undefined) input.extra = r.extra;
    inputs.push(input);
  }
  return { inputs, specials };
}
