/**
 * Stored glucose records through the Record Access Control Point (0x2A52), over noble and the
 * simulated controller: the records a meter took before the gateway connected arrive once,
 * with the values the meter stored; after a disconnect (and after a gateway restart) only the
 * newer records are asked for and arrive; a meter without RACP, one that answers "op code not
 * supported", one that never answers and one that ignores the filter. The expected side is the
 * meter's own record list and the RACP values it received.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimPeripheral } from '../../hardware-mocks/ble/peripherals.js';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import type { AdapterContext } from '../../src/devices/types.js';
import type { Reading } from '../../src/reading.js';
import { type Pipeline, pipeline, waitFor } from '../devices/pipeline.js';
import { type BleRig, bleRig } from './helpers.js';

const ADDRESS = 'c0:ff:ee:00:0a:01';
const DEVICE = 'ble-c0ffee000a01';
/** Records the meter holds when the gateway first connects (sent faster than the adapter's notification rate limit). */
const STORED = 300;
/** "Report stored records, sequence number >= seq": 01 03 01 <seq LE>. */
const fromSeq = (seq: number): string => Buffer.from([0x01, 0x03, 0x01, seq & 0xff, seq >> 8]).toString('hex');

function meter(o: { racp?: boolean; intervalMs?: number } = {}): SimPeripheral {
  // A meter measures a few times a day: no live measurement during the test unless asked for.
  return new SimPeripheral({ kind: 'glucose_meter', address: ADDRESS, name: 'WG-GLUCOSE-001', seed: 42, intervalMs: o.intervalMs ?? 3_600_000, racp: o.racp });
}

describe('glucose records over RACP', () => {
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

  /** Glucose readings committed so far (drained from the buffer, accumulated in `into`). */
  const glucoseIn = (into: Reading[]): Reading[] => {
    for (const r of p!.drain()) if (r.metric === 'glucose') into.push(r);
    return into;
  };
  /** RACP response indications the meter sent so far (its truth file). */
  const racpResponses = (): string[] =>
    rig!
      .truth()
      .filter((t) => t.char === '2a52')
      .map((t) => t.hex);
  /** Sequence numbers of the glucose records the meter notified on link `n` (0: first link). */
  const notifiedSeqs = (): number[][] => {
    const byLink = new Map<number, number[]>();
    for (const t of rig!.truth())
      if (t.char === '2a18') (byLink.get(t.link) ?? byLink.set(t.link, []).get(t.link)!).push(Buffer.from(t.hex, 'hex').readUInt16LE(1));
    return [...byLink.values()];
  };
  const expectReadingsOf = (m: SimPeripheral, got: Reading[]): void => {
    // Every record the meter stored, once, in order, with its value (kg/L on the air, mg/dL in the reading).
    expect(got.map((r) => r.extra?.sequence)).toEqual(m.memory.records.map((r) => r.seq));
    for (const [i, r] of m.memory.records.entries()) {
      expect(got[i]!.deviceId).toBe(DEVICE);
      expect(got[i]!.unit).toBe('mg/dL');
      expect(got[i]!.value).toBeCloseTo(r.mgdl, 6);
    }
  };

  it('stored records arrive once; after a reconnect and a gateway restart only the newer ones are asked for', async () => {
    const m = meter();
    for (let i = 0; i < STORED; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    const ctx: AdapterContext = { ...p.ctx, dataDir };
    await rig.adapter.start(ctx);

    const got: Reading[] = [];
    await waitFor(() => racpResponses().length === 1, 'the first report to end');
    // Report stored records, all (nothing committed yet): 01 01; response: success.
    expect(m.memory.requests.map((b) => b.toString('hex'))).toEqual(['0101']);
    expect(racpResponses()).toEqual(['06000101']);
    await waitFor(() => glucoseIn(got).length >= STORED, 'the stored records committed');

    // Out of range; the meter takes 5 more; back in range.
    await rig.world.controller.setInRange(ADDRESS, false);
    for (let i = 0; i < 5; i++) m.takeGlucose();
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length === 2, 'the second report to end');
    // The records from the first one taken while out of range.
    expect(m.memory.requests[1]!.toString('hex')).toBe(fromSeq(m.memory.records[STORED]!.seq));
    await waitFor(() => glucoseIn(got).length >= STORED + 5, 'the 5 new records committed');

    // Gateway restart: a new adapter over the same data folder; the meter takes 3 more meanwhile.
    await rig.adapter.stop();
    for (let i = 0; i < 3; i++) m.takeGlucose();
    // What survives the restart: device ids and sequence numbers, nothing else.
    expect(JSON.parse(readFileSync(join(dataDir, 'ble-glucose-seq.json'), 'utf8'))).toEqual({ [DEVICE]: m.memory.records[STORED + 4]!.seq });
    const cfg = bleConfigSchema.parse({
      hci: { uart: { port: rig.world.hostPort } },
      devices: [{ address: ADDRESS, bed: 'BED-01' }],
      backoff: { initial: 50, max: 400 },
      statusInterval: 3_600_000,
    });
    extra = new BleAdapter(cfg);
    await extra.start(ctx);
    await waitFor(() => racpResponses().length === 3, 'the report after the restart to end');
    expect(m.memory.requests[2]!.toString('hex')).toBe(fromSeq(m.memory.records[STORED + 5]!.seq));
    await waitFor(() => glucoseIn(got).length >= STORED + 8, 'the 3 records taken while the gateway was down committed');
    await extra.stop();
    glucoseIn(got);

    // The meter sent each record once (STORED, then 5, then 3 on three links), and each became one reading.
    const seqs = m.memory.records.map((r) => r.seq);
    expect(notifiedSeqs()).toEqual([seqs.slice(0, STORED), seqs.slice(STORED, STORED + 5), seqs.slice(STORED + 5)]);
    expectReadingsOf(m, got);
  }, 60_000);

  it('a meter that sends every record whatever the filter: the ones already committed are dropped and counted', async () => {
    const m = meter();
    for (let i = 0; i < 6; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    await rig.adapter.start(p.ctx);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 6, 'the 6 stored records committed');
    m.memory.mode = 'ignore_filter';
    await rig.world.controller.setInRange(ADDRESS, false);
    for (let i = 0; i < 4; i++) m.takeGlucose();
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length === 2, 'the second report to end');
    expect(m.memory.requests[1]!.toString('hex')).toBe(fromSeq(m.memory.records[6]!.seq));
    // The meter sent all 10 again.
    expect(notifiedSeqs()[1]).toEqual(m.memory.records.map((r) => r.seq));
    await waitFor(() => glucoseIn(got).length >= 10, 'the 4 new records committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expectReadingsOf(m, got);
    expect(await p.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })).toBe(6);
  }, 60_000);

  it('records still waiting for their commit when the link drops are sent again by the meter, and committed once', async () => {
    const m = meter();
    for (let i = 0; i < 20; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    p.gate.hold();
    await rig.adapter.start(p.ctx);
    await waitFor(() => racpResponses().length === 1, 'the first report to end');
    await rig.world.controller.setInRange(ADDRESS, false);
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length === 2, 'the second report to end');
    // Nothing committed yet: the meter is asked for all of them again and sends them again.
    expect(m.memory.requests.map((b) => b.toString('hex'))).toEqual(['0101', '0101']);
    expect(notifiedSeqs()[1]).toEqual(m.memory.records.map((r) => r.seq));
    p.gate.release();
    await rig.adapter.stop();
    expectReadingsOf(m, glucoseIn([]));
    expect(await p.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })).toBe(20);
  }, 60_000);

  it('a meter without RACP: live measurements still arrive, nothing is asked', async () => {
    const m = meter({ racp: false, intervalMs: 50 });
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    await rig.adapter.start(p.ctx);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 10, '10 live glucose readings');
    // The radio off first (the host has read everything sent), then the gateway: nothing in flight is left out.
    await rig.world.powerOff();
    await rig.adapter.stop();
    glucoseIn(got);
    expect(m.memory.requests).toEqual([]);
    // Every measurement the meter notified is a reading.
    const sent = notifiedSeqs().flat();
    expect(got.map((r) => r.extra?.sequence)).toEqual(sent);
    for (const r of got) expect(r.value).toBeCloseTo(m.memory.records.find((x) => x.seq === r.extra?.sequence)!.mgdl, 6);
  }, 60_000);

  it('"op code not supported" and no answer at all are counted; the link and live measurements go on', async () => {
    const m = meter({ intervalMs: 100 });
    m.memory.mode = 'unsupported';
    for (let i = 0; i < 3; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000, racpTimeout: 300 } });
    p = await pipeline();
    await rig.adapter.start(p.ctx);
    await waitFor(async () => (await p!.events.count('device_error', { family: 'ble', reason: 'racp_op_code_not_supported' })) === 1, 'op code not supported');
    expect(racpResponses()).toEqual(['06000102']);

    m.memory.mode = 'silent';
    await rig.world.controller.setInRange(ADDRESS, false);
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(async () => (await p!.events.count('device_error', { family: 'ble', reason: 'racp_timeout' })) === 1, 'the report timed out');
    // The adapter asked for all records (none committed by RACP: live ones only), then aborted.
    await waitFor(() => m.memory.requests.length === 3, 'the abort');
    expect(m.memory.requests.map((b) => b.toString('hex'))).toEqual(['0101', m.memory.requests[1]!.toString('hex'), '0300']);
    const got: Reading[] = [];
    const before = glucoseIn(got).length;
    await waitFor(() => glucoseIn(got).length >= before + 3, 'live readings after the timeout');
    expect(rig.world.controller.connectedAddresses()).toEqual([ADDRESS]);
  }, 60_000);
});
