/**
 * Profile readings -> ReadingInputs for the pipeline. A special value (NaN, NRes, +/-INF,
 * reserved) has no number, and the Reading model has no absent value: it is counted as a
 * flag (`reading_flagged{flag="special_<kind>"}`) and not submitted, never turned into a number.
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

export function toInputs(rs: readonly ProfileReading[], address: string, reg: Registration, priority: 'vital' | 'status'): Converted {
  const base = readingBase(address, reg);
  const inputs: ReadingInput[] = [];
  const specials: SpecialValue[] = [];
  for (const r of rs) {
    if (!('value' in r)) {
      specials.push(r.special);
      continue;
    }
    const input: ReadingInput = { ...base, metric: r.metric, value: r.value, unit: r.unit, priority: r.metric === 'battery_level' ? 'status' : priority };
    if (r.deviceTime !== undefined) input.deviceTime = r.deviceTime;
    if (r.questionable) input.quality = ['questionable'];
    if (r.extra !== undefined) input.extra = r.extra;
    inputs.push(input);
  }
  return { inputs, specials };
}
