import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseShifts } from '../../src/buffer/eviction.js';
import { type SqliteBuffer, UNIT_ROW_OVERHEAD } from '../../src/buffer/index.js';
import type { PriorityClass, Reading } from '../../src/reading.js';
import { drainAll, reading, type TestEnv, testEnv } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

const U = 200; // readings per unit

/** One commit per unit: `units` units of `p`, readings numbered from `start` (device = monitor-(i%7)). */
async function fill(buf: SqliteBuffer, p: PriorityClass, units: number, start: number): Promise<void> {
  for (let u = 0; u < units; u++) {
    await buf.append(Array.from({ length: U }, (_, k) => reading(start + u * U + k, { priorityClass: p })));
  }
}

const stored = (buf: SqliteBuffer) => buf.totalStoredBytes();
const gaps = (rs: Reading[]) => rs.filter((r) => r.metric === 'gateway_event' && r.extra?.event === 'gap');

describe('caps and eviction', () => {
  it('byte cap with mixed priorities: lowest class oldest first, exact counts, gap records, alarms survive', async () => {
    let buf = await env.open({ unitMaxReadings: U });
    await fill(buf, 'alarm', 2, 0);
    await fill(buf, 'waveform', 4, 1000);
    await fill(buf, 'status', 4, 2000);
    await fill(buf, 'vital', 4, 3000);
    const s = buf.stats();
    const unitSize = (p: PriorityClass) => s.perClass[p].bytes / s.perClass[p].units + UNIT_ROW_OVERHEAD;
    const total = stored(buf);
    await buf.close();
    // Cap: all waveforms and 1.2 status units must go (so 2 status units do), leaving room for the gap records.
    const cap = Math.floor(total - 4 * unitSize('waveform') - 1.2 * unitSize('status'));
    buf = await env.open({ unitMaxReadings: U, maxBytes: cap, capHeadroomBytes: 0 });
    await buf.flush(); // gap records
    expect(await env.events.count('reading_evicted', { class: 'waveform', reason: 'max_bytes' })).toBe(4 * U);
    expect(await env.events.count('reading_evicted', { class: 'status', reason: 'max_bytes' })).toBe(2 * U);
    expect(await env.events.count('reading_evicted', { class: 'vital' })).toBe(0);
    expect(await env.events.count('reading_evicted', { class: 'alarm' })).toBe(0);
    expect(stored(buf)).toBeLessThanOrEqual(cap);
    const st = buf.stats();
    expect(st.perClass.waveform.readings).toBe(0);
    expect(st.perClass.alarm.readings).toBe(2 * U);
    expect(st.perClass.vital.readings).toBe(4 * U);
    const all = drainAll(buf, 10_000);
    const status = all.filter((r) => r.priorityClass === 'status' && r.metric !== 'gateway_event');
    // the two oldest status units went: readings 2100.. remain
    expect(status.map((r) => r.gatewayTime)).toEqual(Array.from({ length: 2 * U }, (_, k) => reading(2000 + 2 * U + k).gatewayTime));
    const g = gaps(all);
    expect(g.length).toBe(2);
    const wf = g.find((r) => r.extra!.class === 'waveform')!;
    expect(wf.priorityClass).toBe('status');
    expect(wf.deviceKind).toBe('gateway');
    expect(wf.deviceId).toBe('gw-test');
    expect(wf.extra).toMatchObject({
      event: 'gap',
      reason: 'max_bytes',
      class: 'waveform',
      count: 4 * U,
      fromTime: reading(1000).gatewayTime,
      toTime: reading(1000 + 4 * U - 1).gatewayTime,
    });
    expect(wf.extra!.devices).toBe(
      Array.from({ length: 7 }, (_, i) => `monitor-${i}`)
        .sort()
        .join(','),
    );
    expect((wf.extra!.lastSeq as number) - (wf.extra!.firstSeq as number) + 1).toBe(4 * U);
    const sg = g.find((r) => r.extra!.class === 'status')!;
    expect(sg.extra).toMatchObject({ count: 2 * U, fromTime: reading(2000).gatewayTime, toTime: reading(2000 + 2 * U - 1).gatewayTime });
    expect(sg.value).toBe(2 * U);
    await buf.close();
  });

  it('alarms go only when nothing else is left, oldest first', async () => {
    let buf = await env.open({ unitMaxReadings: U });
    await fill(buf, 'alarm', 4, 0);
    await fill(buf, 'vital', 2, 1000);
    await fill(buf, 'status', 2, 2000);
    const s = buf.stats();
    const alarmUnit = s.perClass.alarm.bytes / 4 + UNIT_ROW_OVERHEAD;
    await buf.close();
    // room for 2.9 alarm units and nothing else; the cap's headroom keeps it at 2
    buf = await env.open({ unitMaxReadings: U, maxBytes: Math.floor(2.9 * alarmUnit), capHeadroomBytes: Math.floor(0.2 * alarmUnit) });
    expect(await env.events.count('reading_evicted', { class: 'status' })).toBe(2 * U);
    expect(await env.events.count('reading_evicted', { class: 'vital' })).toBe(2 * U);
    expect(await env.events.count('reading_evicted', { class: 'alarm' })).toBe(2 * U);
    const l = buf.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })!;
    expect(l.priorityClass).toBe('alarm');
    expect(l.readings.map((r) => r.gatewayTime)).toEqual(Array.from({ length: 2 * U }, (_, k) => reading(2 * U + k).gatewayTime));
    await buf.close();
  });

  it('leased units are not evicted', async () => {
    let buf = await env.open({ unitMaxReadings: U });
    await fill(buf, 'waveform', 3, 0);
    const unit = stored(buf) / 3;
    await buf.close();
    buf = await env.open({ unitMaxReadings: U, maxBytes: Math.floor(unit * 10), capHeadroomBytes: 0 });
    const l = buf.lease({ maxReadings: U, maxBytes: 1 << 30 })!; // the oldest unit
    expect(l.readings[0]!.seq).toBe(1);
    await fill(buf, 'waveform', 10, 1000);
    expect(l.readings.length).toBe(U);
    // the leased unit is still there and can be acked; the evicted ones were the next oldest
    const before = buf.stats().perClass.waveform.readings;
    buf.ack(l.id);
    expect(buf.stats().perClass.waveform.readings).toBe(before - U);
    expect(await env.events.count('reading_evicted', { class: 'waveform' })).toBeGreaterThan(0);
    const rest = drainAll(buf, 10_000).filter((r) => r.priorityClass === 'waveform');
    expect(rest.every((r) => r.seq > U)).toBe(true);
    await buf.close();
  });

  it('age cap after a forward clock step (a stale boot clock set by NTP): stored units are aged by the time that passed, not the step', async () => {
    const H = 3_600_000;
    let now = Date.now();
    let mono = 0;
    const buf = await env.open({ unitMaxReadings: U, maxAgeMs: 2 * H, now: () => now, monotonic: () => mono });
    const before = Array.from({ length: U }, (_, k) => reading(k, { gatewayTime: now }));
    await buf.append(before);
    // The clock is set 8 days forward while one second passes.
    now += 8 * 24 * H;
    mono += 1000;
    expect(buf.enforceAgeCap()).toBe(0);
    const after = Array.from({ length: U }, (_, k) => reading(U + k, { gatewayTime: now }));
    await buf.append(after);
    // An hour passes: both sets are an hour old.
    now += H;
    mono += H;
    expect(buf.enforceAgeCap()).toBe(0);
    expect(buf.stats().perClass.vital.readings).toBe(2 * U);
    // 1.5 h more: both are 2.5 h old, over the 2 h cap, and go.
    now += 1.5 * H;
    mono += 1.5 * H;
    expect(buf.enforceAgeCap()).toBe(2 * U);
    expect(await env.events.count('reading_evicted', { class: 'vital', reason: 'max_age' })).toBe(2 * U);
    await buf.close();
  });

  it('a forward clock step is kept across a restart: the units stored before it are still aged by the time that passed', async () => {
    const H = 3_600_000;
    let now = Date.now();
    let mono = 0;
    const clocks = { unitMaxReadings: U, maxAgeMs: 2 * H, now: () => now, monotonic: () => mono };
    let buf = await env.open(clocks);
    const takenAt = now;
    await buf.append(Array.from({ length: U }, (_, k) => reading(k, { gatewayTime: takenAt })));
    // NTP sets the clock 8 days forward while one second passes; the buffer notices, then closes.
    now += 8 * 24 * H;
    mono += 1000;
    expect(buf.enforceAgeCap()).toBe(0);
    await buf.close();
    // A restart a minute later (a new process: its monotonic clock starts again).
    now += 60_000;
    mono = 0;
    buf = await env.open(clocks);
    expect(buf.enforceAgeCap()).toBe(0);
    expect(buf.stats().perClass.vital.readings).toBe(U);
    // 2.5 h after they were taken they are over the 2 h cap and go.
    now += 2.5 * H;
    mono += 2.5 * H;
    expect(buf.enforceAgeCap()).toBe(U);
    await buf.close();
    // Nothing stored is older than the step any more: the next open forgets it. A unit stamped as
    // the old ones were (the clock stale again) is then aged by the wall clock alone: 8 days, over
    // a 3 h cap (with the step still applied it would be 2.5 h old, and kept).
    buf = await env.open({ ...clocks, maxAgeMs: 3 * H });
    await buf.append(Array.from({ length: U }, (_, k) => reading(U + k, { gatewayTime: takenAt })));
    expect(buf.enforceAgeCap()).toBe(U);
    await buf.close();
  });

  it.each([
    [undefined, []],
    ['not json', []],
    ['{"beforeS":1,"ms":5}', []],
    ['[{"beforeS":1,"ms":-5},{"beforeS":"x","ms":5},null,7]', []],
    ['[{"beforeS":1700000000,"ms":5000,"extra":1}]', [{ beforeS: 1_700_000_000, ms: 5000 }]],
  ])('kept clock steps read back from %j: %j (anything else is no step)', (stored, expected) => {
    expect(parseShifts(stored)).toEqual(expected);
  });

  it('age cap evicts readings older than maxAge, every class, with gap records', async () => {
    let now = Date.now();
    let buf = await env.open({ unitMaxReadings: U, now: () => now });
    await fill(buf, 'alarm', 1, 0);
    await fill(buf, 'vital', 2, 100);
    await buf.close();
    now += 2 * 3_600_000; // helper readings are ~1 h old; now they are ~3 h old
    buf = await env.open({ unitMaxReadings: U, maxAgeMs: 2 * 3_600_000, now: () => now });
    expect(await env.events.count('reading_evicted', { class: 'alarm', reason: 'max_age' })).toBe(U);
    expect(await env.events.count('reading_evicted', { class: 'vital', reason: 'max_age' })).toBe(2 * U);
    await buf.flush();
    const all = drainAll(buf, 10_000);
    expect(gaps(all).map((r) => r.extra!.reason)).toEqual(['max_age', 'max_age']);
    await buf.close();
  });
});
