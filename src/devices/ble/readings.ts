/**
 * Profile readings -> ReadingInputs for the pipeline. A special value (NaN, NRes, +/-INF,
 * reserved) has no number, and the Reading model has no absent value: it never becomes a
 * reading of its metric. Instead it is counted (`reading_flagged{flag="special_<kind>"}`) and
 * reported as a status event (`gateway_event`, extra.event `value_absent`, the metric and the
 * FHIR data-absent reason), so a consumer sees that the device measured and had no value.
 */
import type { ReadingInput } from '../../reading.js';
import type { Registration } from './allow-list.js';
import type { SpecialValue } from './profiles/ieee11073.js';
import type { ProfileReading } from './profiles/types.js';
import { readingBase } from './status-readings.js';

export interface Converted {
  inputs: ReadingInput[];
  specials: SpecialValue[];
}

/** FHIR R4 data-absent-reason codes for the special values (ble-and-codes.md). */
export const ABSENT_REASON: Readonly<Record<SpecialValue, string>> = {
  nan: 'not-a-number',
  pos_inf: 'positive-infinity',
  neg_inf: 'negative-infinity',
  nres: 'error',
  reserved: 'error',
};

export function toInputs(rs: readonly ProfileReading[], address: string, reg: Registration, priority: 'vital' | 'status'): Converted {
  const base = readingBase(address, reg);
  const inputs: ReadingInput[] = [];
  const specials: SpecialValue[] = [];
  for (const r of rs) {
    if (!('value' in r)) {
      specials.push(r.special);
      const absent: ReadingInput = {
        ...base,
        metric: 'gateway_event',
        value: 0,
        unit: '1',
        priorityClass: 'status',
        extra: { event: 'value_absent', metric: r.metric, special: r.special, dataAbsentReason: ABSENT_REASON[r.special] },
      };
      if (r.deviceTime !== undefined) absent.deviceTime = r.deviceTime;
      inputs.push(absent);
      continue;
    }
    const input: ReadingInput = { ...base, metric: r.metric, value: r.value, unit: r.unit, priorityClass: r.metric === 'battery_level' ? 'status' : priority };
    if (r.deviceTime !== undefined) input.deviceTime = r.deviceTime;
    if (r.questionable) input.quality = ['questionable'];
    if (r.extra !== undefined) input.extra = r.extra;
    inputs.push(input);
  }
  return { inputs, specials };
}
