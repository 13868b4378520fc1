/**
 * Stored glucose records through the Record Access Control Point (0x2A52), over noble and the
 * simulated controller: by default a meter's records from before its first contact are not
 * imported (its newest number is learned with "last record"), with `storedRecords: all` they
 * arrive once, with the values the meter stored; after a disconnect (and after a gateway
 * restart) only the newer records are asked for and arrive; a buffer refusal in the middle of a
 * report is asked for again and nothing after it is skipped; a counter restart or wrap is a new
 * first contact; a meter without RACP, one that answers "op code not supported", one that never
 * answers and one that ignores the filter. The expected side is the meter's own record list and
 * the RACP values it received.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GlucoseRecord } from '../../hardware-mocks/ble/glucose-meter.js';
import type { SimPeripheral } from '../../hardware-mocks/ble/peripherals.js';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import type { AdapterContext } from '../../src/devices/types.js';
import type { Reading } from '../../src/reading.js';
import { type Pipeline, pipeline, waitFor } from '../devices/pipeline.js';
import { ADDRESS, atSeq, DEVICE, fromSeq, LAST, meter, refusingSecondGlucoseBatch } from './glucose-helpers.js';
import { type BleRig, bleRig } from './helpers.js';

/** Records the meter holds when the gateway first connects (sent faster than the adapter's notification rate limit). */
const STORED = 300;
/** The 16-bit check of a record's time the adapter keeps: the first two octets of SHA-256 over its base time (no time offset here). */
const timeCheckOf = (r: GlucoseRecord): number => createHash('sha256').update(r.bytes.subarray(3, 10)).digest().readUInt16BE(0);
/** The allow-list entry of the meter, importing every stored record on first contact. */
const ALL = { devices: [{ address: ADDRESS, bed: 'BED-01', storedRecords: 'all' as const }] };

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
  const expectReadingsOf = (m: SimPeripheral, readings: Reading[]): void => {
    // Every record the meter stored, once, with its value (kg/L on the air, mg/dL in the reading); a probe's answer may come first.
    const got = [...readings].sort((a, b) => (a.extra?.sequence as number) - (b.extra?.sequence as number));
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
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000, ...ALL } });
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
    await waitFor(() => racpResponses().length === 4, 'the second report to end');
    // The newest number first, the kept record (its time), then the records from the first one taken while out of range.
    expect(m.memory.requests.slice(1).map((b) => b.toString('hex'))).toEqual([
      LAST,
      atSeq(m.memory.records[STORED - 1]!.seq),
      fromSeq(m.memory.records[STORED]!.seq),
    ]);
    await waitFor(() => glucoseIn(got).length >= STORED + 5, 'the 5 new records committed');

    // Gateway restart: a new adapter over the same data folder; the meter takes 3 more meanwhile.
    await rig.adapter.stop();
    for (let i = 0; i < 3; i++) m.takeGlucose();
    // What survives the restart: device ids, sequence numbers, beds and the kept record's 16-bit time check, nothing else.
    expect(JSON.parse(readFileSync(join(dataDir, 'ble-glucose-seq.json'), 'utf8'))).toEqual({
      [DEVICE]: { seq: m.memory.records[STORED + 4]!.seq, bed: 'BED-01', check: timeCheckOf(m.memory.records[STORED + 4]!) },
    });
    const cfg = bleConfigSchema.parse({
      hci: { uart: { port: rig.world.hostPort } },
      devices: [{ address: ADDRESS, bed: 'BED-01', storedRecords: 'all' }],
      backoff: { initial: 50, max: 400 },
      statusInterval: 3_600_000,
    });
    extra = new BleAdapter(cfg);
    await extra.start(ctx);
    await waitFor(() => racpResponses().length === 7, 'the report after the restart to end');
    expect(m.memory.requests.slice(4).map((b) => b.toString('hex'))).toEqual([
      LAST,
      atSeq(m.memory.records[STORED + 4]!.seq),
      fromSeq(m.memory.records[STORED + 5]!.seq),
    ]);
    await waitFor(() => glucoseIn(got).length >= STORED + 8, 'the 3 records taken while the gateway was down committed');
    await extra.stop();
    glucoseIn(got);

    // The meter sent each record once (STORED, then 5, then 3 on three links; before them its newest, the probe's
    // answer, and the kept one), and each became one reading.
    const seqs = m.memory.records.map((r) => r.seq);
    expect(notifiedSeqs()).toEqual([
      seqs.slice(0, STORED),
      [seqs[STORED + 4]!, seqs[STORED - 1]!, ...seqs.slice(STORED, STORED + 5)],
      [seqs.at(-1)!, seqs[STORED + 4]!, ...seqs.slice(STORED + 5)],
    ]);
    expectReadingsOf(m, got);
  }, 60_000);

  /** The records' sequence numbers and values, as a set (sorted by sequence number), to compare what was committed with what the meter stored. */
  const asSet = (rs: readonly { seq: number; mgdl: number }[]): [number, number][] =>
    rs.map((r): [number, number] => [r.seq, Math.round(r.mgdl * 1e6) / 1e6]).sort((a, b) => a[0] - b[0]);
  const committedSet = (got: readonly Reading[]): [number, number][] => {
    for (const r of got) expect(r.deviceId).toBe(DEVICE);
    return asSet(got.map((r) => ({ seq: r.extra?.sequence as number, mgdl: r.value })));
  };
  const requestsHex = (m: SimPeripheral): string[] => m.memory.requests.map((b) => b.toString('hex'));
  /** Out of range, `between()` (the meter takes records meanwhile), back in range, and wait for `responses` RACP responses in all. */
  const reconnect = async (between: () => void, responses: number): Promise<void> => {
    await rig!.world.controller.setInRange(ADDRESS, false);
    between();
    await rig!.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length >= responses, `${responses} RACP responses`);
  };
  /** The sequence number the adapter keeps for the meter, from its file (undefined: none yet). */
  const keptSeq = (dataDir: string): number | undefined => {
    const f = join(dataDir, 'ble-glucose-seq.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as Record<string, { seq: number }>)[DEVICE]?.seq : undefined;
  };

  it('the buffer refuses a batch in the middle of a report: the same link asks again from its first record, every record committed once', async () => {
    const m = meter();
    for (let i = 0; i < STORED; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000, ...ALL } });
    p = await pipeline();
    // The second submission carrying glucose records is refused (as a full disk); the others go to the real buffer.
    const { sink, refused, passed } = refusingSecondGlucoseBatch(p.gate);
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    await rig.adapter.start({ ...p.ctx, sink, dataDir });
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= STORED, 'every stored record committed');
    // The refusal was in the middle: later records of the same report were committed before it was asked for again.
    expect(refused.length).toBeGreaterThan(0);
    const firstRefused = Math.min(...refused);
    expect(passed.indexOf(Math.max(...refused) + 1)).toBeLessThan(passed.indexOf(firstRefused));
    // All records, then (same link, after the backoff) the newest number, the last record before the refused one (its
    // time) and the records from the first one refused.
    await waitFor(() => racpResponses().length === 4, 'the report asked again');
    expect(requestsHex(m)).toEqual(['0101', LAST, atSeq(firstRefused - 1), fromSeq(firstRefused)]);
    // A reconnect asks only for what came after the newest: the kept number covers every record.
    await reconnect(() => {
      for (let i = 0; i < 2; i++) m.takeGlucose();
    }, 7);
    expect(requestsHex(m).slice(4)).toEqual([LAST, atSeq(m.memory.records[STORED - 1]!.seq), fromSeq(m.memory.records[STORED]!.seq)]);
    await waitFor(() => glucoseIn(got).length >= STORED + 2, 'the 2 new records committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expect(committedSet(got)).toEqual(asSet(m.memory.records));
    expect(JSON.parse(readFileSync(join(dataDir, 'ble-glucose-seq.json'), 'utf8'))).toEqual({
      [DEVICE]: { seq: m.memory.records.at(-1)!.seq, bed: 'BED-01', check: timeCheckOf(m.memory.records.at(-1)!) },
    });
  }, 60_000);

  it('first contact (default): the records stored before it are not imported, the ones taken since are', async () => {
    const m = meter();
    for (let i = 0; i < 5; i++) m.takeGlucose();
    const before = [...m.memory.records];
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    await rig.adapter.start({ ...p.ctx, dataDir });
    await waitFor(() => racpResponses().length === 1, 'the probe to end');
    await waitFor(() => existsSync(join(dataDir, 'ble-glucose-seq.json')), 'the first contact saved');
    // Only "last record" was asked; the meter sent its newest, which is not imported.
    expect(requestsHex(m)).toEqual([LAST]);
    expect(notifiedSeqs()).toEqual([[before.at(-1)!.seq]]);
    expect(JSON.parse(readFileSync(join(dataDir, 'ble-glucose-seq.json'), 'utf8'))).toEqual({
      [DEVICE]: { seq: before.at(-1)!.seq, bed: 'BED-01', check: timeCheckOf(before.at(-1)!) },
    });
    await reconnect(() => {
      for (let i = 0; i < 3; i++) m.takeGlucose();
    }, 4);
    expect(requestsHex(m).slice(1)).toEqual([LAST, atSeq(before.at(-1)!.seq), fromSeq(m.memory.records[5]!.seq)]);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 3, 'the 3 records taken since committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expect(committedSet(got)).toEqual(asSet(m.memory.records.slice(5)));
  }, 60_000);

  it('a meter registered to another bed (gateway restarted with the new config): a first contact, the records from the old bed not imported', async () => {
    const m = meter();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    const ctx: AdapterContext = { ...p.ctx, dataDir };
    await rig.adapter.start(ctx);
    await waitFor(() => existsSync(join(dataDir, 'ble-glucose-seq.json')), 'the first contact on BED-01');
    const got: Reading[] = [];
    const onOldBed: GlucoseRecord[] = [];
    await reconnect(() => onOldBed.push(m.takeGlucose(), m.takeGlucose()), 3);
    await waitFor(() => glucoseIn(got).length >= 2, "BED-01's records committed");
    await rig.adapter.stop();
    // The previous patient takes one more before the meter is moved; the gateway restarts with it on BED-02.
    onOldBed.push(m.takeGlucose());
    const cfg = bleConfigSchema.parse({
      hci: { uart: { port: rig.world.hostPort } },
      devices: [{ address: ADDRESS, bed: 'BED-02' }],
      backoff: { initial: 50, max: 400 },
      statusInterval: 3_600_000,
    });
    extra = new BleAdapter(cfg);
    await extra.start(ctx);
    await waitFor(() => keptSeq(dataDir) === onOldBed.at(-1)!.seq, 'the first contact on BED-02');
    const onNewBed: GlucoseRecord[] = [];
    await reconnect(() => onNewBed.push(m.takeGlucose()), 6);
    await waitFor(() => glucoseIn(got).length >= 3, "BED-02's record committed");
    await extra.stop();
    glucoseIn(got);
    // (the probe's answer, the newest, may arrive before the older one)
    expect(got.map((r) => `${r.bed}:${r.extra?.sequence}`).sort()).toEqual([
      ...onOldBed.slice(0, 2).map((r) => `BED-01:${r.seq}`),
      ...onNewBed.map((r) => `BED-02:${r.seq}`),
    ]);
    expect(await p.events.count('device_error', { family: 'ble', reason: 'glucose_bed_changed' })).toBe(1);
  }, 60_000);

  it('a meter without "last record": counted, its newest learned from all its records (none imported), then the newer ones', async () => {
    const m = meter();
    m.memory.mode = 'no_first_last';
    for (let i = 0; i < 5; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
    await rig.adapter.start({ ...p.ctx, dataDir });
    await waitFor(() => keptSeq(dataDir) === m.memory.records.at(-1)!.seq, 'the newest learned from all records');
    expect(requestsHex(m)).toEqual([LAST, '0101']);
    await reconnect(() => m.takeGlucose(), 4);
    expect(requestsHex(m).slice(2)).toEqual([LAST, fromSeq(m.memory.records[5]!.seq)]);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 1, 'the record taken since committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expect(committedSet(got)).toEqual(asSet(m.memory.records.slice(5)));
    expect(await p.events.count('device_error', { family: 'ble', reason: 'racp_last_record_unsupported' })).toBe(2);
  }, 60_000);

  it.each([
    ['counter restart (battery change)', 'since-first-contact', 1],
    ['counter restart (battery change)', 'all', 1],
    ['sequence number wrap past 0xFFFF', 'since-first-contact', 0xfffc],
  ] as const)(
    '%s, storedRecords %s: counted, handled as a first contact',
    async (what, storedRecords, firstSeq) => {
      const m = meter();
      m.memory.reset(firstSeq);
      const take = (n: number): GlucoseRecord[] => Array.from({ length: n }, () => m.takeGlucose());
      const all = storedRecords === 'all';
      const config = { statusInterval: 3_600_000, devices: [{ address: ADDRESS, bed: 'BED-01', storedRecords }] };
      const beforeContact = take(2);
      rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config });
      p = await pipeline();
      const dataDir = mkdtempSync(join(tmpdir(), 'wardgate-ble-data-'));
      await rig.adapter.start({ ...p.ctx, dataDir });
      // The adapter has handled each step once the number it keeps (its file) says so.
      const keptIs = (seq: number, what: string): Promise<void> => waitFor(() => keptSeq(dataDir) === seq, what);
      await keptIs(beforeContact.at(-1)!.seq, 'the first contact');
      let sinceContact: GlucoseRecord[] = [];
      await reconnect(() => (sinceContact = take(2)), 4);
      const got: Reading[] = [];
      await waitFor(() => glucoseIn(got).length >= (all ? 4 : 2), 'the records before the restart committed');
      await keptIs(sinceContact.at(-1)!.seq, 'the kept number after them');
      // The meter restarts its counter (what === restart) or goes on past 0xFFFF: its newest number is below the kept one.
      let afterRestart: GlucoseRecord[] = [];
      await reconnect(
        () => {
          if (what.startsWith('counter')) m.memory.reset();
          afterRestart = take(2);
        },
        all ? 6 : 5,
      );
      expect(afterRestart.at(-1)!.seq).toBeLessThan(sinceContact.at(-1)!.seq);
      await keptIs(afterRestart.at(-1)!.seq, 'the new first contact');
      expect(await p.events.count('device_error', { family: 'ble', reason: 'glucose_sequence_restart' })).toBe(1);
      // since-first-contact: nothing older than the new first contact; all: every record the meter holds.
      expect(requestsHex(m).slice(4)).toEqual(all ? [LAST, '0101'] : [LAST]);
      let later: GlucoseRecord[] = [];
      await reconnect(() => (later = take(2)), all ? 9 : 8);
      // (after a wrap the meter also sends the old records above its newest: dropped, and a probe asked again later)
      expect(requestsHex(m).slice(all ? 6 : 5, all ? 9 : 8)).toEqual([LAST, atSeq(afterRestart.at(-1)!.seq), fromSeq(later[0]!.seq)]);
      const want = all ? [...beforeContact, ...sinceContact, ...afterRestart, ...later] : [...sinceContact, ...later];
      await waitFor(() => glucoseIn(got).length >= want.length, 'the records after the restart committed');
      await rig.adapter.stop();
      glucoseIn(got);
      // Compared by sequence number and value (a restart reuses numbers: the records are told apart by both).
      const key = (x: [number, number]): string => x.join(':');
      expect(committedSet(got).map(key).sort()).toEqual(asSet(want).map(key).sort());
    },
    60_000,
  );

  it('a meter that sends every record whatever the filter: the ones already committed are dropped and counted', async () => {
    const m = meter();
    for (let i = 0; i < 6; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000, ...ALL } });
    p = await pipeline();
    await rig.adapter.start(p.ctx);
    const got: Reading[] = [];
    await waitFor(() => glucoseIn(got).length >= 6, 'the 6 stored records committed');
    m.memory.mode = 'ignore_filter';
    await rig.world.controller.setInRange(ADDRESS, false);
    for (let i = 0; i < 4; i++) m.takeGlucose();
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length === 4, 'the second report to end');
    expect(m.memory.requests.slice(1).map((b) => b.toString('hex'))).toEqual([LAST, atSeq(m.memory.records[5]!.seq), fromSeq(m.memory.records[6]!.seq)]);
    // The meter sent all 10 to the probe, all 10 for the kept record, and all 10 again.
    const all = m.memory.records.map((r) => r.seq);
    expect(notifiedSeqs()[1]).toEqual([...all, ...all, ...all]);
    await waitFor(() => glucoseIn(got).length >= 10, 'the 4 new records committed');
    await rig.adapter.stop();
    glucoseIn(got);
    expectReadingsOf(m, got);
    // The probe's and the kept record's answers are only looked at (the kept record is checked first); of the report's
    // 10, the 6 committed before are dropped.
    expect(await p.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })).toBe(6);
  }, 60_000);

  it('records still waiting for their commit when the link drops are sent again by the meter, and committed once', async () => {
    const m = meter();
    for (let i = 0; i < 20; i++) m.takeGlucose();
    rig = await bleRig({ wearables: 1, beds: 1, peripherals: [m], config: { statusInterval: 3_600_000, ...ALL } });
    p = await pipeline();
    p.gate.hold();
    await rig.adapter.start(p.ctx);
    await waitFor(() => racpResponses().length === 1, 'the first report to end');
    await rig.world.controller.setInRange(ADDRESS, false);
    await rig.world.controller.setInRange(ADDRESS, true);
    await waitFor(() => racpResponses().length === 3, 'the second report to end');
    // Nothing committed yet: the meter is asked for all of them again (>= its first: the report showed there is no 0) and sends them again.
    expect(m.memory.requests.map((b) => b.toString('hex'))).toEqual(['0101', LAST, fromSeq(m.memory.records[0]!.seq)]);
    const all = m.memory.records.map((r) => r.seq);
    expect(notifiedSeqs()[1]).toEqual([all.at(-1)!, ...all]);
    p.gate.release();
    // The meter sent each record twice and the last once more (the probe): the second copies are
    // refused as committed. The adapter stops once the host has read them all (it reads the UART
    // at most once per readPacing, so it may still be behind the meter's last indication).
    const SECOND_COPIES = 21;
    await waitFor(
      async () => (await p!.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })) >= SECOND_COPIES,
      'the second copies refused',
    );
    await rig.adapter.stop();
    expectReadingsOf(m, glucoseIn([]));
    expect(await p.events.count('frame_rejected', { family: 'ble', reason: 'glucose_already_committed' })).toBe(SECOND_COPIES);
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
    // The adapter asked for the newest number both times (the first never answered), then aborted.
    await waitFor(() => m.memory.requests.length === 3, 'the abort');
    expect(m.memory.requests.map((b) => b.toString('hex'))).toEqual([LAST, LAST, '0300']);
    const got: Reading[] = [];
    const before = glucoseIn(got).length;
    await waitFor(() => glucoseIn(got).length >= before + 3, 'live readings after the timeout');
    expect(rig.world.controller.connectedAddresses()).toEqual([ADDRESS]);
  }, 60_000);
});
