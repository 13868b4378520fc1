/**
 * The table of characteristic parsers: the GATT health profiles, and any vendor decoder
 * added with `registerDecoder` (one function, one call). The adapter subscribes to every
 * characteristic in this table that a registered device offers.
 */
import { parseBatteryLevel } from './battery.js';
import { parseBloodPressure, parseIntermediateCuffPressure } from './blood-pressure.js';
import { parseGlucose } from './glucose.js';
import { parseHeartRate } from './heart-rate.js';
import { parsePlxContinuous, parsePlxSpotCheck } from './plx.js';
import { parseTemperature } from './thermometer.js';
import type { ProfileParser } from './types.js';
import { normaliseUuid } from './uuid.js';

export type { ParseResult, ProfileParser, ProfileReading } from './types.js';

export interface Decoder {
  /** Short name, used as a metrics label. */
  name: string;
  service: string;
  characteristic: string;
  parse: ProfileParser;
  /** Priority class of the readings (default: vital). */
  priorityClass?: 'vital' | 'status';
}

const DECODERS = new Map<string, Decoder>();

/** Adds a decoder for a characteristic (replacing any for the same UUID). */
export function registerDecoder(d: Decoder): void {
  DECODERS.set(normaliseUuid(d.characteristic), { ...d, service: normaliseUuid(d.service), characteristic: normaliseUuid(d.characteristic) });
}

export function decoderFor(characteristicUuid: string): Decoder | undefined {
  return DECODERS.get(normaliseUuid(characteristicUuid));
}

export function decoders(): Decoder[] {
  return [...DECODERS.values()];
}

registerDecoder({ name: 'heart_rate', service: '180d', characteristic: '2a37', parse: parseHeartRate });
registerDecoder({ name: 'plx_spot_check', service: '1822', characteristic: '2a5e', parse: parsePlxSpotCheck });
registerDecoder({ name: 'plx_continuous', service: '1822', characteristic: '2a5f', parse: parsePlxContinuous });
registerDecoder({ name: 'temperature', service: '1809', characteristic: '2a1c', parse: parseTemperature });
registerDecoder({ name: 'intermediate_temperature', service: '1809', characteristic: '2a1e', parse: parseTemperature });
registerDecoder({ name: 'blood_pressure', service: '1810', characteristic: '2a35', parse: parseBloodPressure });
registerDecoder({ name: 'cuff_pressure', service: '1810', characteristic: '2a36', parse: parseIntermediateCuffPressure });
registerDecoder({ name: 'glucose', service: '1808', characteristic: '2a18', parse: parseGlucose });
registerDecoder({ name: 'battery', service: '180f', characteristic: '2a19', parse: parseBatteryLevel, priorityClass: 'status' });
