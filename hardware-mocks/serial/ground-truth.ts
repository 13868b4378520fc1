/** What a simulated monitor sent, one JSON object a line, appended as it is sent; and read back by tests. */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface TruthRecord {
  /** Per-device send order. */
  n: number;
  /** Metric ids as the catalogue names them, with the value the monitor encoded. */
  values: Record<string, number>;
  /** Metric ids the monitor sent a "no value" marker for, with the value-absent quality flag the reading must carry. */
  absent?: Record<string, string>;
  /** Waveform samples in this record, per metric id, in the device's unit, in order. */
  waves?: Record<string, number[]>;
  /** Alarm codes active in this record (alarm readings are edges of these). */
  alarms?: string[];
  /** Technical alarm codes active in this record. */
  technical?: string[];
  /** Device time (ms), when the protocol carries one. */
  time?: number;
  /** The fault tools damaged this record on the wire: the gateway must not deliver it. */
  damaged?: string;
}

export class GroundTruth {
  private n = 0;
  constructor(private readonly file: string | undefined) {
    if (file) writeFileSync(file, '');
  }

  record(r: Omit<TruthRecord, 'n'>): TruthRecord {
    const rec = { n: this.n++, ...r };
    if (this.file) appendFileSync(this.file, `${JSON.stringify(rec)}\n`);
    return rec;
  }
}

export function readGroundTruth(file: string): TruthRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TruthRecord);
}
