import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BufferRefused, DB_FILE, getOrCreateGatewayId, LOCK_FILE, openBuffer, readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { drainAll, reading, type TestEnv, testEnv, withPriority } from './helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = testEnv();
});
afterEach(() => env.cleanup());

describe('SqliteBuffer basics', () => {
  it('round-trips readings exactly, with contiguous seqs from 1', async () => {
    const buf = await env.open();
    const input = Array.from({ length: 50 }, (_, i) => reading(i));
    await buf.append(input);
    const l = buf.lease({ maxReadings: 1000, maxBytes: 1 << 20 })!;
    expect(l.priorityClass).toBe('vital');
    expect(l.readings.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(l.readings.map(({ seq: _s, gatewayId: _g, ...rest }) => rest)).toEqual(input);
    expect(l.readings.every((r) => r.gatewayId === 'gw-test')).toBe(true);
    await buf.close();
  });

  it('leases the highest non-empty class first, oldest first, per-device order kept', async () => {
    const buf = await env.open();
    await buf.append(withPriority(5, 'waveform', 0));
    await buf.append(withPriority(5, 'status', 100));
    await buf.append(withPriority(5, 'vital', 200));
    await buf.append(withPriority(3, 'alarm', 300));
    await buf.append(withPriority(5, 'vital', 400));
    const order = drainAll(buf, 4);
    expect(order.map((r) => r.priorityClass)).toEqual([
      ...Array(3).fill('alarm'),
      ...Array(10).fill('vital'),
      ...Array(5).fill('status'),
      ...Array(5).fill('waveform'),
    ]);
    // within a class: seq increasing, and so per device
    for (const p of ['vital', 'status'] as const) {
      const seqs = order.filter((r) => r.priorityClass === p).map((r) => r.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    const byDevice = new Map<string, number[]>();
    for (const r of order.filter((x) => x.priorityClass === 'vital')) byDevice.set(r.deviceId, [...(byDevice.get(r.deviceId) ?? []), r.gatewayTime]);
    for (const times of byDevice.values()) expect(times).toEqual([...times].sort((a, b) => a - b));
    await buf.close();
  });

  it('leases only from the classes asked for, the highest of them first', async () => {
    const buf = await env.open();
    await buf.append(withPriority(2, 'waveform', 0));
    await buf.append(withPriority(2, 'status', 100));
    await buf.append(withPriority(2, 'alarm', 200));
    const limits = { maxReadings: 100, maxBytes: 1 << 20 };
    const bulk = buf.lease({ ...limits, classes: ['vital', 'status', 'waveform'] })!;
    expect(bulk.priorityClass).toBe('status');
    expect(buf.lease({ ...limits, classes: ['vital'] })).toBeNull();
    expect(buf.lease({ ...limits, classes: ['alarm'] })!.priorityClass).toBe('alarm');
    expect(buf.lease({ ...limits, classes: ['alarm'] })).toBeNull();
    expect(buf.lease(limits)!.priorityClass).toBe('waveform');
    buf.ack(bulk.id);
    expect(buf.stats().totalReadings).toBe(4);
    await buf.close();
  });

  it('groups one commit by class: alarms get the lowest seqs, ranges contiguous per class', async () => {
    const buf = await env.open({ commitIntervalMs: 50 });
    const p1 = buf.append([reading(0, { priorityClass: 'vital' }), reading(1, { priorityClass: 'alarm' }), reading(2, { priorityClass: 'vital' })]);
    const p2 = buf.append([reading(3, { priorityClass: 'alarm' })]);
    await Promise.all([p1, p2]);
    const a = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    expect(a.priorityClass).toBe('alarm');
    expect(a.readings.map((r) => [r.seq, r.gatewayTime])).toEqual([
      [1, reading(1).gatewayTime],
      [2, reading(3).gatewayTime],
    ]);
    const v = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    expect(v.readings.map((r) => r.seq)).toEqual([3, 4]);
    await buf.close();
  });

  it('ack removes, release re-offers ahead of newer units, a unit is never leased twice', async () => {
    const buf = await env.open({ unitMaxReadings: 10 });
    await buf.append(withPriority(30, 'vital'));
    const l1 = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    const l2 = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    expect(l1.readings.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(l2.readings[0]!.seq).toBe(11);
    expect(buf.stats().inFlight).toBe(20);
    buf.release(l1.id);
    const l3 = buf.lease({ maxReadings: 10, maxBytes: 1 << 20 })!;
    expect(l3.readings[0]!.seq).toBe(1);
    buf.ack(l2.id);
    buf.ack(l3.id);
    expect(buf.stats().totalReadings).toBe(10);
    expect(buf.stats().inFlight).toBe(0);
    const l4 = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    expect(l4.readings.map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21));
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })).toBeNull();
    buf.ack(l4.id);
    expect(buf.stats().totalReadings).toBe(0);
    await buf.close();
  });

  it('respects lease limits but always leases at least one unit', async () => {
    const buf = await env.open({ unitMaxReadings: 10 });
    await buf.append(withPriority(40, 'vital'));
    const l = buf.lease({ maxReadings: 25, maxBytes: 1 << 20 })!;
    expect(l.readings.length).toBe(20);
    const tiny = buf.lease({ maxReadings: 1000, maxBytes: 1 })!;
    expect(tiny.readings.length).toBe(10);
    expect(tiny.bytes).toBeGreaterThan(1);
    await buf.close();
  });

  it('a unit larger than maxReadings is leased in part; after the ack only its rest remains, also across a restart', async () => {
    let buf = await env.open({ unitMaxReadings: 10 });
    await buf.append(withPriority(10, 'vital'));
    const a = buf.lease({ maxReadings: 3, maxBytes: 1 << 20 })!;
    expect(a.readings.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(buf.stats().inFlight).toBe(3);
    expect(buf.lease({ maxReadings: 3, maxBytes: 1 << 20 })).toBeNull(); // the unit is leased
    buf.release(a.id);
    const b = buf.lease({ maxReadings: 4, maxBytes: 1 << 20 })!;
    expect(b.readings.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    buf.ack(b.id);
    expect(buf.stats().totalReadings).toBe(6);
    await buf.close();
    buf = await env.open({ unitMaxReadings: 10 });
    const c = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    expect(c.readings.map((r) => r.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(c.readings.map(({ seq: _s, gatewayId: _g, ...rest }) => rest)).toEqual(withPriority(10, 'vital').slice(4));
    buf.ack(c.id);
    expect(buf.stats().totalReadings).toBe(0);
    await buf.close();
  });

  it('after a restart: everything is kept, leased units are offered again, seq continues above the high-water mark', async () => {
    let buf = await env.open();
    await buf.append(withPriority(20, 'vital'));
    await buf.append(withPriority(5, 'alarm'));
    const l = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!; // alarms, leased but never acked
    expect(l.priorityClass).toBe('alarm');
    const v = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    buf.ack(v.id); // vitals 1..20 gone; the highest seq (alarms 21..25) is leased
    await buf.close();
    buf = await env.open();
    expect(buf.stats().lastSeq).toBe(25);
    expect(buf.stats().totalReadings).toBe(5);
    const again = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    expect(again.readings.map((r) => r.seq)).toEqual([21, 22, 23, 24, 25]);
    buf.ack(again.id);
    await buf.close();
    // all acked: max(seq) of remaining rows is gone, the high-water must not be
    buf = await env.open();
    expect(buf.stats().totalReadings).toBe(0);
    await buf.append([reading(1)]);
    const n = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!;
    expect(n.readings[0]!.seq).toBe(26);
    await buf.close();
  });

  it('the commit promise resolves only once a second connection can read the data', async () => {
    const buf = await env.open({ commitIntervalMs: 30 });
    const other = new Database(join(env.dir, DB_FILE), { readonly: true });
    const count = () => other.prepare('SELECT coalesce(sum(n), 0) FROM units_vital').pluck().get() as number;
    let resolved = false;
    const p = buf.append(withPriority(7, 'vital')).then(() => {
      resolved = true;
      return count();
    });
    expect(count()).toBe(0);
    expect(resolved).toBe(false);
    expect(await p).toBe(7);
    other.close();
    await buf.close();
  });

  it('commits at commitMaxReadings without waiting for the interval', async () => {
    const buf = await env.open({ commitIntervalMs: 60_000, commitMaxReadings: 10 });
    // The interval (60 s) is longer than the test may run (30 s): the append settles only through the count.
    await buf.append(withPriority(10, 'vital'));
    expect(buf.stats().totalReadings).toBe(10);
    await buf.close();
  });

  it('an alarm does not wait for the commit interval, and takes what is pending with it', async () => {
    const buf = await env.open({ commitIntervalMs: 60_000 });
    let vitalsCommitted = false;
    const vitals = buf.append(withPriority(5, 'vital')).then(() => (vitalsCommitted = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(vitalsCommitted).toBe(false);
    expect(buf.stats().totalReadings).toBe(0);
    // The interval (60 s) is longer than the test may run (30 s): the alarm's append settling at all means it did not wait.
    await buf.append(withPriority(1, 'alarm'));
    await vitals;
    expect(buf.stats().totalReadings).toBe(6);
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })!.priorityClass).toBe('alarm');
    await buf.close();
  });

  it('alarmCommitIntervalMs shortens an armed timer for an alarm, never lengthens it', async () => {
    const buf = await env.open({ commitIntervalMs: 60_000, alarmCommitIntervalMs: 50 });
    // Timers on a fake clock (immediates and I/O stay real): the commit is due when the test says so.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const vitals = buf.append(withPriority(3, 'vital'));
      let alarmCommitted = false;
      const alarm = buf.append(withPriority(1, 'alarm')).then(() => (alarmCommitted = true));
      const turns = async (n: number) => {
        for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
      };
      // Not at once (alarmCommitIntervalMs is 50, not 0)...
      await turns(20);
      expect(alarmCommitted).toBe(false);
      vi.advanceTimersByTime(49);
      await turns(20);
      expect(alarmCommitted).toBe(false);
      // ...and at 50 ms of the fake clock, not at the 60 s the vitals had armed.
      vi.advanceTimersByTime(1);
      await alarm;
      await vitals;
    } finally {
      vi.useRealTimers();
    }
    expect(buf.stats().totalReadings).toBe(4);
    await buf.close();
  });

  it('onCommit fires after each commit, and unsubscribes', async () => {
    const buf = await env.open();
    let n = 0;
    const off = buf.onCommit(() => n++);
    await buf.append([reading(1)]);
    await buf.append([reading(2)]);
    expect(n).toBe(2);
    off();
    await buf.append([reading(3)]);
    expect(n).toBe(2);
    await buf.close();
  });

  it('refuses appends after close and readings it cannot encode, counting them', async () => {
    const buf = await env.open();
    await expect(buf.append([{ ...reading(1), metric: 'nope' as never }])).rejects.toBeInstanceOf(BufferRefused);
    await buf.close();
    await expect(buf.append([reading(1)])).rejects.toMatchObject({ reason: 'closed' });
    expect(await env.events.count('reading_refused')).toBe(2);
  });

  it('a failing commit rejects with BufferRefused and the buffer keeps working', async () => {
    const buf = await env.open();
    await buf.append([reading(1)]);
    // Make the next insert fail: a second connection holds the write lock.
    const other = new Database(join(env.dir, DB_FILE));
    other.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    (buf as unknown as { db: Database.Database }).db.pragma('busy_timeout = 0');
    await expect(buf.append([reading(2)])).rejects.toBeInstanceOf(BufferRefused);
    other.exec('ROLLBACK');
    other.close();
    await buf.append([reading(3)]);
    const all = drainAll(buf);
    expect(all.map((r) => r.seq)).toEqual([1, 2]);
    expect(all[1]!.gatewayTime).toBe(reading(3).gatewayTime);
    expect(await env.events.count('reading_refused', { reason: 'io_error' })).toBe(1);
    await buf.close();
  });

  it('stats: per-class counters, oldest time, disk bytes; readBufferStats agrees without the key', async () => {
    const buf = await env.open();
    await buf.append(withPriority(12, 'vital'));
    await buf.append(withPriority(3, 'alarm'));
    const s = buf.stats();
    expect(s.perClass.vital.readings).toBe(12);
    expect(s.perClass.alarm.readings).toBe(3);
    expect(s.perClass.status.readings).toBe(0);
    expect(s.perClass.vital.oldestGatewayTime).toBe(Math.floor(reading(0).gatewayTime / 1000) * 1000);
    expect(s.totalReadings).toBe(15);
    expect(s.diskBytes).toBeGreaterThan(0);
    for (const f of [DB_FILE, `${DB_FILE}-wal`, `${DB_FILE}-shm`]) expect(statSync(join(env.dir, f)).mode & 0o077, f).toBe(0);
    const r = readBufferStats(env.dir, { keyFile: env.keyFile })!;
    expect(r.perClass.vital.readings).toBe(12);
    expect(r.perClass.vital.bytes).toBe(s.perClass.vital.bytes);
    expect(r.totalReadings).toBe(15);
    expect(r.lastSeq).toBe(15);
    expect(r.keyIdsInUse).toEqual([1]);
    expect(r.gatewayIds).toEqual(['gw-test']);
    await buf.close();
    expect(readBufferStats(join(env.dir, 'none'))).toBeNull();
  });

  it('readBufferStats: a database file with no table yet (a gateway creating it this instant) is no buffer yet, not an error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-stats-new-'));
    try {
      new Database(join(dir, DB_FILE)).close(); // as SQLite leaves it before the schema's first commit
      expect(readBufferStats(dir)).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one writer per data folder', () => {
  it('a second open is refused while the buffer is open; a stale lock (dead owner) is taken over; close releases', async () => {
    const buf = await env.open();
    await expect(env.open()).rejects.toThrow(/in use by this process/);
    await buf.close();
    const again = await env.open();
    await again.close();
    // a lock left by a process that died (SIGKILL) does not keep the gateway out
    writeFileSync(join(env.dir, LOCK_FILE), JSON.stringify({ pid: 2 ** 22 + 12345, start: '1' }));
    const b2 = await env.open();
    await expect(env.open()).rejects.toBeInstanceOf(BufferRefused);
    await b2.close();
    expect(existsSync(join(env.dir, LOCK_FILE))).toBe(false);
  });

  it('a failed open (wrong key file) does not leave the folder locked', async () => {
    const buf = await env.open();
    await buf.append([reading(1)]);
    await buf.close();
    const other = join(env.dir, '..', 'other.key');
    generateKeyFile(other);
    await expect(openBuffer({ dir: env.dir, keyFile: other, gatewayId: 'gw-test', events: env.events, log: silentLogger(), ballastBytes: 0 })).rejects.toThrow(
      /fingerprint/,
    );
    const ok = await env.open();
    expect(ok.stats().totalReadings).toBe(1);
    await ok.close();
  });
});

describe('gateway id', () => {
  it('is generated once, kept, differs between data folders, and a configured id wins', () => {
    const root = mkdtempSync(join(tmpdir(), 'wg-gwid-'));
    try {
      const a = getOrCreateGatewayId(join(root, 'a'));
      expect(a).toMatch(/^gw-[0-9a-f]{16}$/);
      expect(getOrCreateGatewayId(join(root, 'a'))).toBe(a);
      expect(readFileSync(join(root, 'a', 'gateway-id'), 'utf8').trim()).toBe(a);
      expect(getOrCreateGatewayId(join(root, 'b'))).not.toBe(a);
      expect(getOrCreateGatewayId(join(root, 'a'), 'ward-7')).toBe('ward-7');
      expect(() => getOrCreateGatewayId(join(root, 'a'), 'bad id!')).toThrow();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
