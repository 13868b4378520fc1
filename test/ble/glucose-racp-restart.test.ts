/**
 * What the kept sequence number of a glucose meter cannot tell by itself, over noble and the
 * simulated controller: a meter reset (counter restarted) that has since taken more records
 * than the kept number is told from a continuation by the kept record's time; a meter without
 * "within range" cannot be checked and goes on as before (counted); records committed above a
 * refused one are not committed again after a gateway restart. The expected side is the
 * meter's own record list and the RACP values it received.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GlucoseRecord } from '../../hardware-mocks/ble/glucose-meter.js';
import type { SimPeripheral } from '../../hardware-mocks/ble/peripherals.js';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import type { Reading } from '../../src/reading.js';
import { type Pipeline, pipeline, waitFor } from '../devices/pipeline.js';
import { ADDRESS, atSeq, DEVICE, fromSeq, LAST, meter, refusingSecondGlucoseBatch } from './glucose-helpers.js';
import { type BleRig, bleRig } from './helpers.js';

const HOUR = 3_600_000;

describe('glucose records: what the kept number alone cannot tell', () => {
  let rig: BleRig | null = null;
  let p: Pipeline | null = null;
  let extra: BleAdapter | null = null;
  afterEach(async () => {
    await extra?.stop().catch(() => undefined);
    await rig?.adapter.stop().catch(() => undefined);
    await rig?.close();
    await p?.close();
    rig = p = extra = null;
  });

  const glucoseIn = (into: Reading[]): Reading[] => {
    for (const r of p!.drain()) if (r.metric === 'glucose') into.push(r);
    return into;
  };
  const racpResponses = (): number => rig!.truth().filter((t) => t.char === '2a52').length;
  const requestsHex = (m: SimPeripheral): string[] => m.memory.requests.map((b) => b.toString('hex'));
  const reconnect = async (between: () => void, responses: number): Promise<void> => {
    await rig!.world.controller.setInRange(ADDRESS, false);
    between();
    await rig!.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses() >= responses, `${responses} RACP responses`);
  };
  const keptSeq = (dataDir: string): number | undefined => {
    const f = join(dataDir, 'ble-glucose-seq.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, { seq: number }>)[DEVICE]?.seq : undefined;
  };
  /** Sequence number and value of each record, sorted (a restart reuses numbers: records are told apart by both). */
  const keys = (rs: readonly { seq: number; mgdl: number }[]): string[] => rs.map((r) => `${r.seq}:${Math.round(r.mgdl * 1e6) / 1e6}`).sort();
  const committedKeys = (got: readonly Reading[]): string[] => keys(got.map((r) => ({ seq: r.extra?.sequence as number, mgdl: r.value })));

  it.each([
    ['more records than', 6],
    ['as many records as', 4],
  ] as const)(
    'a reset meter that has since taken %s the kept number: its kept record has another time, so a first contact',
    async (_what, n) => {
      const m = meter();
      const t0 = Date.now();
      let at = 0;
      /** Records an hour apart (a meter measures a few times a day), from the test's own clock. */
      const take = (n: number): GlucoseRecord[] => Array.from({ length: n }, () => m.memory.take(100 + at, new Date(t0 - 48 * HOUR + at++ * HOUR)));
      take(2);
      rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: HOUR } });
      p = await pipeline();
      const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
      await rig.adapter.start({ ...p.ctx, dataDir });
      await waitFor(() => keptSeq(dataDir) === 2, 'the first contact');
      let sinceContact: GlucoseRecord[] = [];
      await reconnect(() => (sinceContact = take(2)), 4);
      await waitFor(() => keptSeq(dataDir) === 4, 'records 3 and 4 committed');
      // Battery change: the counter starts again at 1, and the meter takes n records (numbers 1-n, none below the kept 4).
      let afterReset: GlucoseRecord[] = [];
      await reconnect(
        () => {
          m.memory.reset();
          afterReset = take(n);
        },
        n > 4 ? 6 : 5,
      );
      // The record now numbered 4 (asked for, or the newest itself) is another measurement: a new first contact at n.
      const restarts = (): Promise<number> => p!.events.count('device_error', { family: 'ble', reason: 'glucose_sequence_restart' });
      await waitFor(async () => (await restarts()) === 1, 'the restart found');
      await waitFor(() => keptSeq(dataDir) === n, 'the new first contact');
      expect(requestsHex(m).slice(4)).toEqual(n > 4 ? [LAST, atSeq(4)] : [LAST]);
      let later: GlucoseRecord[] = [];
      await reconnect(() => (later = take(2)), n > 4 ? 9 : 8);
      expect(requestsHex(m).slice(n > 4 ? 6 : 5)).toEqual([LAST, atSeq(n), fromSeq(n + 1)]);
      const got: Reading[] = [];
      await waitFor(() => glucoseIn(got).length >= 4, 'the records after the first contacts committed');
      await rig.adapter.stop();
      glucoseIn(got);
      // Not the records the reset meter took before the new first contact (they may be the previous patient's).
      expect(committedKeys(got)).toEqual(keys([...sinceContact, ...later]));
      expect(afterReset.map((r) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(await restarts()).toBe(1);
    },
    60_000,
  );

  it('a meter without "within range": counted, the kept record not checked, the newer records imported as before', async () => {
    const m = meter();
    m.memory.mode = 'no_range';
    for (let i = 0; i < 3; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: HOUR } });
    p = await pipeline();
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    await rig.adapter.start({ ...p.ctx, dataDir });
    await waitFor(() => keptSeq(dataDir) === 3, 'the first contact');
    const since: GlucoseRecord[] = [];
    await reconnect(() => since.push(m.takeGlucose(), m.takeGlucose()), 4);
    expect(requestsHex(m)).toEqual([LAST, LAST, atSeq(3), fromSeq(4)]);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 2, 'the 2 new records committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expect(committedKeys(got)).toEqual(keys(since));
    expect(await p.events.count('device_error', { family: 'ble', reason: 'racp_verify_operator_not_supported' })).toBe(1);
  }, 60_000);

  // The meter's response to the report either right after its last record, or 1.5 s later: then the
  // host reads the report's end after every commit of it, and the kept number moves on reading it.
  it.each([0, 1500])(
    'records committed above a refused one are not committed again after a gateway restart (response after %i ms)',
    async (responseDelayMs) => {
      const m = meter();
      m.memory.responseDelayMs = responseDelayMs;
      const STORED = 300; // sent faster than the adapter's batches: the refusal falls in the middle of the report
      for (let i = 0; i < STORED; i++) m.takeGlucose();
      // The retry after a refusal waits for the backoff (a minute): the gateway restarts before it.
      const config = {
        statusInterval: HOUR,
        backoff: { initial: 60_000, max: 60_000 },
        devices: [{ address: ADDRESS, bed: 'BED-01', storedRecords: 'all' as const }],
      };
      rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config });
      p = await pipeline();
      const { sink, refused, passed } = refusingSecondGlucoseBatch(p.gate);
      const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
      await rig.adapter.start({ ...p.ctx, sink, dataDir });
      await waitFor(() => racpResponses() === 1, 'the report to end');
      await waitFor(() => passed.length + refused.length === STORED, 'every record committed or refused');
      const firstRefused = Math.min(...refused);
      const above = passed.filter((s) => s > Math.max(...refused));
      // The point of the test: records above the refused ones were committed before the restart.
      expect(refused.length).toBeGreaterThan(0);
      expect(above.length).toBeGreaterThan(0);
      // The kept number stops before the first refused record once the host has read the report's
      // end (the meter's RACP response; the host reads the UART at most once per readPacing): it must
      // get there, and never past it.
      await waitFor(() => keptSeq(dataDir) === firstRefused - 1, `the kept number at ${firstRefused - 1} (${keptSeq(dataDir)})`);
      await rig.adapter.stop();
      expect(keptSeq(dataDir)).toBe(firstRefused - 1);

      const cfg = bleConfigSchema.parse({ hci: { uart: { port: rig.world.hostPort } }, ...config });
      extra = new BleAdapter(cfg);
      await extra.start({ ...p.ctx, dataDir });
      await waitFor(() => racpResponses() === 4, 'the report after the restart to end');
      expect(requestsHex(m).slice(1)).toEqual([LAST, atSeq(firstRefused - 1), fromSeq(firstRefused)]);
      const got: Reading[] = [];
      await waitFor(() => glucoseIn(got).length >= STORED, 'every record committed');
      await waitFor(() => keptSeq(dataDir) === STORED, 'the kept number over all');
      // The ones above the refused ones come again and are refused as committed; the adapter stops
      // once the host has read them (it reads the UART at most once per readPacing).
      await waitFor(
        async () => (await p!.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })) >= above.length,
        'the records committed before the restart refused when sent again',
      );
      await extra.stop();
      glucoseIn(got);
      // Each record once: the ones committed above the refused ones before the restart were dropped (counted), not committed again.
      expect(got.map((r) => r.extra?.sequence as number).sort((a, b) => a - b)).toEqual(m.memory.records.map((r) => r.seq));
      expect(await p.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })).toBeGreaterThanOrEqual(above.length);
    },
    60_000,
  );
});
