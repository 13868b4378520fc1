/** The simulated glucose meter and the RACP request bytes both glucose record test files use. */
import { SimPeripheral } from '../../hardware-mocks/ble/peripherals.js';
import { BufferRefused } from '../../src/buffer/index.js';
import type { ReadingSink } from '../../src/devices/types.js';

export const ADDRESS = 'c0:ff:ee:00:0a:01';
export const DEVICE = 'ble-c0ffee000a01';
/** RACP "report stored records, last record" (op 01, operator 06). */
export const LAST = '0106';
/** RACP "report stored records, greater than or equal to seq". */
export const fromSeq = (seq: number): string => Buffer.from([0x01, 0x03, 0x01, seq & 0xff, seq >> 8]).toString('hex');
/** RACP "report stored records, within range seq..seq". */
export const atSeq = (seq: number): string => Buffer.from([0x01, 0x04, 0x01, seq & 0xff, seq >> 8, seq & 0xff, seq >> 8]).toString('hex');

export function meter(o: { racp?: boolean; intervalMs?: number } = {}): SimPeripheral {
  // A meter measures a few times a day: no live measurement during the test unless asked for.
  return new SimPeripheral({ kind: 'glucose_meter', address: ADDRESS, name: 'WG-GLUCOSE-001', seed: 42, intervalMs: o.intervalMs ?? 3_600_000, racp: o.racp });
}

/**
 * A sink that refuses the second submission carrying glucose records (as a full disk) and passes
 * the others to `gate`; `refused` and `passed` list the record sequence numbers of each.
 */
export function refusingSecondGlucoseBatch(gate: ReadingSink): { sink: ReadingSink; refused: number[]; passed: number[] } {
  const refused: number[] = [];
  const passed: number[] = [];
  let glucoseBatches = 0;
  const sink: ReadingSink = {
    async submit(inputs) {
      const seqs = inputs.filter((i) => i.metric === 'glucose').map((i) => i.extra?.sequence as number);
      if (seqs.length > 0 && ++glucoseBatches === 2) {
        refused.push(...seqs);
        throw new BufferRefused('disk_full', 'test: disk full');
      }
      await gate.submit(inputs);
      passed.push(...seqs);
    },
  };
  return { sink, refused, passed };
}
