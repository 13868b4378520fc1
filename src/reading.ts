/**
 * The one canonical Reading, and the normalisation every device family goes through
 * before a reading may enter the buffer.
 */
import { CATALOGUE, isMetricId, type MetricId, toCatalogueUnit } from './catalogue.js';

/** Priority classes, highest first. The index is the class classIndex (0 = alarm). */
export const PRIORITY_CLASSES = ['alarm', 'vital', 'status', 'waveform'] as const;
export type PriorityClass = (typeof PRIORITY_CLASSES)[number];
export const DEVICE_KINDS = ['simulator', 'serial', 'ble', 'mqtt', 'gateway'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export const QUALITY_FLAGS = [
  'out_of_range', // value outside the catalogue's physiological range (kept, flagged)
  'simulated', // produced by a simulated device
  'device_clock_unknown', // the device sent no usable timestamp; deviceTime is absent
  'device_clock_skew', // device time differs from gateway time by more than the configured tolerance
  'unit_converted', // the device's unit was converted into the catalogue unit
  'questionable', // the device itself marked the value as questionable
  // The device measured and sent a special value instead of a number (IEEE 11073 SFLOAT/FLOAT
  // specials, a monitor's invalid marker): the reading carries no number (value NaN in the
  // model, null in JSON). Exactly one of these, never with a number.
  'value_nan', // not a number (11073 NaN; a monitor's "invalid" / "no value")
  'value_nres', // not at this resolution (11073 NRes)
  'value_positive_infinity', // +INFINITY
  'value_negative_infinity', // -INFINITY
  'value_reserved', // a reserved special value (11073 reserved for future use)
] as const;
export type QualityFlag = (typeof QUALITY_FLAGS)[number];

/** The quality flags that say a reading has no number, and why. */
const VALUE_ABSENT_FLAGS = ['value_nan', 'value_nres', 'value_positive_infinity', 'value_negative_infinity', 'value_reserved'] as const;
export type ValueAbsentFlag = (typeof VALUE_ABSENT_FLAGS)[number];
const ABSENT = new Set<string>(VALUE_ABSENT_FLAGS);

/** The value-absent flag of a reading (undefined when it carries a number). */
export function valueAbsent(quality: readonly QualityFlag[]): ValueAbsentFlag | undefined {
  for (const q of quality) if (ABSENT.has(q)) return q as ValueAbsentFlag;
  return undefined;
}

export type Extra = Readonly<Record<string, string | number | boolean>>;

/** What a device adapter hands to the pipeline: everything it knows about one measurement. */
export interface ReadingInput {
  deviceId: string;
  deviceKind: DeviceKind;
  bed: string;
  patientId?: string;
  metric: MetricId | string;
  /** NaN (or any non-finite number) only together with one value-absent quality flag (VALUE_ABSENT_FLAGS). */
  value: number;
  /** Unit as the device reported it; converted into the catalogue unit when it differs. */
  unit?: string;
  /** Device timestamp, ms since the epoch, when the device sent one. */
  deviceTime?: number;
  priorityClass?: PriorityClass;
  quality?: QualityFlag[];
  /** Small typed attributes (alarm text code, gap record fields). No patient data. */
  extra?: Extra;
}

/** A normalised reading, ready to be sequenced and committed by the buffer. */
export interface PendingReading {
  deviceId: string;
  deviceKind: DeviceKind;
  bed: string;
  patientId?: string;
  metric: MetricId;
  /** NaN exactly when a value-absent quality flag is set: the device sent a special value, not a number. */
  value: number;
  unit: string;
  deviceTime?: number;
  gatewayTime: number;
  priorityClass: PriorityClass;
  quality: QualityFlag[];
  extra?: Extra;
}

/** A committed reading: it has a gateway id and a per-gateway sequence number. */
export interface Reading extends PendingReading {
  gatewayId: string;
  /** Per-gateway sequence, strictly increasing across restarts, assigned at commit. */
  seq: number;
}

export class ReadingRejected extends Error {
  constructor(
    readonly reason: 'non_finite' | 'unknown_metric' | 'bad_unit' | 'bad_field',
    message: string,
  ) {
    super(message);
    this.name = 'ReadingRejected';
  }
}

export interface NormaliseOptions {
  /** Gateway receive time, ms since the epoch. */
  now: number;
  /** Device clocks further than this from the gateway's are flagged (ms). */
  clockSkewToleranceMs: number;
}

const DEFAULT_PRIORITY_CLASS: PriorityClass = 'vital';
const MAX_ID_LEN = 128;

function checkId(name: string, v: unknown, optional = false): void {
  if (optional && v === undefined) return;
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_LEN) {
    throw new ReadingRejected('bad_field', `${name} must be a non-empty string of at most ${MAX_ID_LEN} characters`);
  }
}

/** The largest time a Date can hold, in ms either side of the epoch (ECMA-262 21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

/**
 * Validates and normalises one input. Non-finite values and unknown metrics or units
 * are rejected (the caller counts them); values outside the physiological range are kept
 * and flagged. A reading with one value-absent flag carries no number: its value must be
 * non-finite and becomes NaN (a number with such a flag, or two such flags, is refused).
 * Never reads or logs the value beyond what is needed.
 */
export function normalise(input: ReadingInput, opts: NormaliseOptions): PendingReading {
  checkId('deviceId', input.deviceId);
  checkId('bed', input.bed);
  checkId('patientId', input.patientId, true);
  const absent = input.quality ? input.quality.filter((q) => ABSENT.has(q)) : [];
  if (new Set(absent).size > 1) throw new ReadingRejected('bad_field', 'more than one value-absent flag');
  if (typeof input.value !== 'number' || (absent.length === 0 && !Number.isFinite(input.value))) {
    throw new ReadingRejected('non_finite', `value for ${String(input.metric)} is not a finite number`);
  }
  if (absent.length > 0 && Number.isFinite(input.value)) throw new ReadingRejected('bad_field', `${absent[0]} with a number`);
  if (!isMetricId(input.metric)) {
    throw new ReadingRejected('unknown_metric', `unknown metric ${JSON.stringify(String(input.metric).slice(0, 64))}`);
  }
  const def = CATALOGUE[input.metric];
  const quality: QualityFlag[] = input.quality ? [...new Set(input.quality)] : [];
  const value = absent.length > 0 ? (toCatalogueUnit(def, 0, input.unit) === undefined ? undefined : NaN) : toCatalogueUnit(def, input.value, input.unit);
  if (value === undefined) {
    throw new ReadingRejected('bad_unit', `unit ${JSON.stringify(input.unit)} is not accepted for ${def.id} (expects ${def.unit})`);
  }
  if (absent.length === 0) {
    if (input.unit !== undefined && input.unit !== def.unit) quality.push('unit_converted');
    if (value < def.range[0] || value > def.range[1]) quality.push('out_of_range');
  }
  let deviceTime = input.deviceTime;
  // Outside what a Date can hold (±8.64e15 ms), a time cannot be written as ISO 8601 by any
  // format: unusable, as a non-finite one is (the forwarder would fail on it, not the source).
  if (deviceTime !== undefined && !(Math.abs(deviceTime) <= MAX_DATE_MS)) deviceTime = undefined;
  if (deviceTime === undefined) {
    if (!quality.includes('device_clock_unknown')) quality.push('device_clock_unknown');
  } else if (Math.abs(deviceTime - opts.now) > opts.clockSkewToleranceMs) {
    quality.push('device_clock_skew');
  }
  // Every field present, absent ones undefined, always in this order: one object shape for
  // every reading of every family, so the hot path after it (the codec, the formats) stays
  // monomorphic instead of being recompiled when a new combination of fields first appears.
  return {
    deviceId: input.deviceId,
    deviceKind: input.deviceKind,
    bed: input.bed,
    patientId: input.patientId,
    metric: def.id,
    value,
    unit: def.unit,
    deviceTime,
    gatewayTime: opts.now,
    // A waveform sample belongs to the waveform class unless its source says otherwise.
    priorityClass: input.priorityClass ?? (def.waveform ? 'waveform' : DEFAULT_PRIORITY_CLASS),
    quality,
    extra: input.extra,
  };
}
