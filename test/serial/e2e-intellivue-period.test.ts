/**
 * IntelliVue periodic polls end to end over socat ptys: with `intellivue.pollPeriod` the gateway's extended polls
 * carry NOM_ATTR_TIME_PD_POLL and the simulated monitor answers each for that long on its own (every 100 ms here);
 * the buffer must hold exactly what the simulator sent, from a handful of requests instead of one per result. A
 * monitor that ignores the period (answers once) must still be read, polled again when its results stop.
 */
import { describe, expect, it } from 'vitest';
import { IntellivueSimulator } from '../../hardware-mocks/intellivue.js';
import { readGroundTruth } from '../../hardware-mocks/serial/ground-truth.js';
import { type Case, cleanupAfterEach, settle, setup } from './helpers/e2e.js';

cleanupAfterEach();

describe('IntelliVue periodic polls over socat ptys', () => {
  // name, the simulator ignores the period, sends linked parts, poll interval, records, how many numerics polls fit the results sent (streaming)
  it.each([
    ['streams for the period', false, false, 200, 40, (n: number, results: number) => n * 4 <= results],
    ['streams linked parts (RORLS, empty final RORS)', false, true, 200, 40, (n: number, results: number) => n * 4 <= results],
    ['ignores the period', true, false, 100, 20, null], // answered once per poll: its 20 records took 20 polls
  ] as const)('a monitor that %s: the buffer holds what it sent, in order', async (_name, ignorePeriod, linked, pollInterval, records, requestsFit) => {
    let sim: IntellivueSimulator | undefined;
    const c: Case = {
      protocol: 'intellivue',
      port: { pollInterval, intellivue: { pollPeriod: 3000 } },
      sim: (port, truth) => {
        sim = new IntellivueSimulator({ port, truth, seed: 21, reportIntervalMs: 100, ignorePeriod, linked });
        return sim;
      },
      records,
    };
    const s = await setup(c);
    const { want, have } = await settle(s, 'intellivue-1', records);
    expect(want.has('fio2') && want.has('heart_rate')).toBe(true);
    for (const [metric, vs] of want) expect({ metric, values: have.get(metric)!.slice(0, vs.length) }).toEqual({ metric, values: vs });
    // Requests against results the simulator wrote down: few requests when it streams, one per result when it does not.
    const results = readGroundTruth(s.truthFile).filter((r) => Object.keys(r.values).length > 0).length;
    if (requestsFit) expect(requestsFit(sim!.seen.pollNumerics, results)).toBe(true);
    expect(sim!.lastPeriodTicks).toBe(3000 * 8); // the configured period, in 1/8 ms ticks on the wire
    // Linked: each replaced series ended with its empty final part, and none of them was rejected (below).
    if (linked) expect(sim!.finals).toBeGreaterThan(0);
    expect(await s.p.events.count('frame_rejected', { family: 'serial' })).toBe(0);
  });
});
