/**
 * Alarms end to end over real ptys: what each simulated device listed as active becomes alarm
 * readings (class alarm, severity high) at the starts and ends of its episodes, no more.
 */
import { describe, expect, it } from 'vitest';
import { readGroundTruth } from '../../hardware-mocks/serial/ground-truth.js';
import { CASES, cleanupAfterEach, settle, setup } from './helpers/e2e.js';

cleanupAfterEach();

describe('alarms over socat ptys', () => {
  it.each(CASES.filter((c) => ['ge-s5', 'masimo', 'medibus', 'line'].includes(c.protocol)))(
    '$protocol: alarm on/off edges follow the episodes the device listed',
    async (c) => {
      const s = await setup(c);
      await settle(s, `${c.protocol}-1`, 70);
      const truth = readGroundTruth(s.truthFile).filter((r) => !r.damaged);
      const active = truth.map((r) => (r.alarms?.length ?? 0) > 0);
      const starts = active.filter((a, i) => a && (i === 0 || !active[i - 1])).length;
      expect(starts).toBeGreaterThan(0);
      const on = s.got.filter((r) => r.priorityClass === 'alarm' && r.extra?.state === 'on');
      const off = s.got.filter((r) => r.priorityClass === 'alarm' && r.extra?.state === 'off');
      expect(on.length).toBeGreaterThan(0);
      expect(on.length).toBeLessThanOrEqual(starts);
      expect(off.length).toBeLessThanOrEqual(on.length);
      expect(on.every((r) => r.extra?.severity === 'high' && r.deviceId === `${c.protocol}-1`)).toBe(true);
    },
  );
});
