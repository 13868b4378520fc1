/**
 * What a device's alarm says about its value, for FHIR `interpretation` (HL7 v3
 * ObservationInterpretation) and HL7 v2 OBX-8 (abnormal flags, table 0078): the two use the
 * same codes. Documented in docs/formats.md.
 *
 * - Direction from the device's alarm condition (`extra.alarm`): a word LOW / LO or one
 *   starting with DESAT, BRADY, HYPO gives L; HIGH / HI or one starting with TACHY, HYPER gives
 *   H; anything else (IntelliVue hex codes, Masimo's ALM) gives no direction: A.
 * - Criticality from the device's priority (`extra.severity`): `high` gives the critical
 *   code (LL, HH, AA); medium, low or none the plain one (L, H, A).
 *
 * Readings that are not alarms have no alarm flag; an out-of-range routine value is A.
 */
import type { Reading } from '../../reading.js';

export type AlarmFlag = 'H' | 'L' | 'HH' | 'LL' | 'A' | 'AA';

export const FLAG_DISPLAY: Record<AlarmFlag, string> = {
  H: 'High',
  L: 'Low',
  HH: 'Critical high',
  LL: 'Critical low',
  A: 'Abnormal',
  AA: 'Critical abnormal',
};

const LOW_WORDS = new Set(['LOW', 'LO']);
const HIGH_WORDS = new Set(['HIGH', 'HI']);
const LOW_PREFIXES = ['DESAT', 'BRADY', 'HYPO'];
const HIGH_PREFIXES = ['TACHY', 'HYPER'];

function direction(condition: string): 'H' | 'L' | null {
  const words = condition
    .toUpperCase()
    .split(/[^A-Z0-9]+/)
    .filter(Boolean);
  let dir: 'H' | 'L' | null = null;
  for (const w of words) {
    const wordDir =
      LOW_WORDS.has(w) || LOW_PREFIXES.some((p) => w.startsWith(p)) ? 'L' : HIGH_WORDS.has(w) || HIGH_PREFIXES.some((p) => w.startsWith(p)) ? 'H' : null;
    if (wordDir && dir && wordDir !== dir) return null; // says both: no direction
    dir = wordDir ?? dir;
  }
  return dir;
}

/** The alarm flag of an alarm-class reading, or null for any other reading. */
function alarmFlag(r: Reading): AlarmFlag | null {
  if (r.priorityClass !== 'alarm') return null;
  const condition = r.extra?.alarm;
  const dir = typeof condition === 'string' ? direction(condition) : null;
  const critical = r.extra?.severity === 'high';
  if (dir === null) return critical ? 'AA' : 'A';
  return critical ? (dir === 'H' ? 'HH' : 'LL') : dir;
}

/** The flag a reading carries: its alarm flag, else A when out of range, else none. */
export function readingFlag(r: Reading): AlarmFlag | null {
  return alarmFlag(r) ?? (r.quality.includes('out_of_range') ? 'A' : null);
}

/** The device's alarm as it reported it: condition, priority and, where sent, state, source, silenced. */
export interface DeviceAlarm {
  condition?: string;
  priority?: string;
  state?: string;
  source?: string;
  silenced?: boolean;
}

export function deviceAlarm(r: Reading): DeviceAlarm | null {
  if (r.priorityClass !== 'alarm') return null;
  const e = r.extra ?? {};
  const a: DeviceAlarm = {};
  if (e.alarm !== undefined) a.condition = String(e.alarm);
  if (e.severity !== undefined) a.priority = String(e.severity);
  if (e.state !== undefined) a.state = String(e.state);
  if (e.source !== undefined) a.source = String(e.source);
  if (typeof e.silenced === 'boolean') a.silenced = e.silenced;
  return a;
}
