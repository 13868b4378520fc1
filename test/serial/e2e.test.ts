/**
 * End to end over real pseudo-terminals: each simulated monitor (hardware-mocks, its own
 * framing) <-> socat pty pair <-> the serial adapter <-> real Ingest and encrypted SQLite
 * buffer. The values, device times and per-device order in the buffer must be those the
 * simulator wrote to its ground-truth file.
 */
import { describe, expect, it } from 'vitest';
import { CASES, cleanupAfterEach, settle, setup } from './helpers/e2e.js';

cleanupAfterEach();

describe('serial monitors end to end over socat ptys', () => {
  it.each(CASES)('$protocol: the buffer holds exactly what the simulator sent, in order, with device times', async (c) => {
    const s = await setup(c);
    const { want, have } = await settle(s, `${c.protocol}-1`, c.records);
    expect([...want.keys()].length).toBeGreaterThanOrEqual(2);
    for (const [metric, vs] of want) expect({ metric, values: have.get(metric)!.slice(0, vs.length) }).toEqual({ metric, values: vs });
    const mine = s.got.filter((r) => r.deviceId === `${c.protocol}-1`);
    expect(mine.every((r) => r.bed === 'BED-03' && r.patientId === 'PAT-0003' && r.deviceKind === 'serial')).toBe(true);
    expect(await s.p.events.count('frame_rejected', { family: 'serial' })).toBe(0);
    expect(await s.p.events.count('reading_rejected')).toBe(0);
  });
});
