/**
 * Groups a lease's readings (seq order) for the formats that put several readings in one
 * message (FHIR blood-pressure panels, waveform batches): readings with the same key share the
 * open group of that key until `full` says it cannot take the next one, and each group is placed
 * where its first reading was, so a device's messages keep the order of their first readings.
 * A reading whose key is null stands alone.
 */
import type { Reading } from '../../reading.js';

export function groupInOrder(
  readings: readonly Reading[],
  keyOf: (r: Reading) => string | null,
  full: (group: readonly Reading[], next: Reading) => boolean,
): Reading[][] {
  const groups: Reading[][] = [];
  const open = new Map<string, Reading[]>();
  for (const r of readings) {
    const key = keyOf(r);
    if (key === null) {
      groups.push([r]);
      continue;
    }
    let g = open.get(key);
    if (!g || full(g, r)) {
      g = [];
      open.set(key, g);
      groups.push(g);
    }
    g.push(r);
  }
  return groups;
}
