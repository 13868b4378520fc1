/**
 * Commit pacing on an injected clock: a reading is committed no later than its class's maximum
 * delay (and not before, unless something forces it); an alarm is committed at once, taking
 * what is pending along; readings spread over a second share one commit; and nothing is
 * acknowledged before the fsync of its commit (the fsyncs are held back by the test).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SqliteBuffer } from '../../src/buffer/index.js';
import { commitDelays, SD_CARD_COMMIT_MAX_DELAYS } from '../../src/buffer/pacing.js';
import { nodeSyncFs, type SyncFs } from '../../src/buffer/wal-sync.js';
import { type TestEnv, testEnv, withPriority } from './helpers.js';

/** node:fs, but each fsync waits until the test releases it. */
function heldFs(): SyncFs & { held: number; release(): void } {
  const queue: { fd: number; cb: (err: Error | null) => void }[] = [];
  return {
    get held() {
      return queue.length;
    },
    open: nodeSyncFs.open,
    fsync: (fd, cb) => void queue.push({ fd, cb }),
    close: nodeSyncFs.close,
    release() {
      for (const q of queue.splice(0)) nodeSyncFs.fsync(q.fd, q.cb);
    },
  };
}

const settled = (p: Promise<unknown>) => {
  const s = { done: false, err: undefined as unknown };
  p.then(
    () => {
      s.done = true;
    },
    (e) => {
      s.done = true;
      s.err = e;
    },
  );
  return s;
};

/** Waits (real time, the fsync runs on the thread pool) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise<void>((r) => setImmediate(r)); // setImmediate is not faked
  if (!cond()) throw new Error('condition not reached');
}

const committed = (buf: SqliteBuffer) => buf.stats().totalReadings;
const units = (buf: SqliteBuffer) => Object.values(buf.stats().perClass).reduce((a, c) => a + c.units, 0);

describe('commit pacing', () => {
  let env: TestEnv;
  let fs: ReturnType<typeof heldFs>;
  let buf: SqliteBuffer;
  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    env = testEnv('wg-pacing-');
    fs = heldFs();
    buf = await env.open({ commitIntervalMs: undefined, commitMaxDelayMs: { vital: 1000, waveform: 2000 }, walSyncFs: fs });
  });
  afterEach(async () => {
    fs.release();
    await buf.close();
    vi.useRealTimers();
    env.cleanup();
  });

  it('the delays by class: alarm 0, vital and status 500 ms, waveform 1 s by default; commitIntervalMs only for classes not given', () => {
    expect(commitDelays({})).toEqual([0, 500, 500, 1000]);
    expect(commitDelays({ commitMaxDelayMs: SD_CARD_COMMIT_MAX_DELAYS })).toEqual([0, 1000, 1000, 2000]);
    expect(commitDelays({ commitIntervalMs: 25 })).toEqual([0, 25, 25, 25]);
    expect(commitDelays({ commitIntervalMs: 25, commitMaxDelayMs: { waveform: 500 }, alarmCommitIntervalMs: 50 })).toEqual([25, 25, 25, 500]);
  });

  it('a vital is committed at its maximum delay, not before, and acknowledged only after its fsync', async () => {
    const a = settled(buf.append(withPriority(1, 'vital')));
    await vi.advanceTimersByTimeAsync(999);
    expect(committed(buf)).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(committed(buf)).toBe(1);
    await until(() => fs.held === 1);
    expect(a.done).toBe(false); // written, but its fsync has not completed
    fs.release();
    await until(() => a.done);
    expect(a.err).toBeUndefined();
  });

  it('a waveform waits up to 2 s, a vital arriving meanwhile brings the commit forward to its own deadline', async () => {
    void buf.append(withPriority(1, 'waveform'));
    await vi.advanceTimersByTimeAsync(500);
    void buf.append(withPriority(1, 'vital', 1));
    await vi.advanceTimersByTimeAsync(999);
    expect(committed(buf)).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(committed(buf)).toBe(2);
  });

  it('an alarm is committed at once, with what is pending, and acknowledged only after its fsync', async () => {
    const v = settled(buf.append(withPriority(3, 'vital')));
    await vi.advanceTimersByTimeAsync(10);
    const al = settled(buf.append(withPriority(1, 'alarm', 3)));
    // No timer: the next turn of the event loop.
    await until(() => committed(buf) === 4);
    await until(() => fs.held === 1);
    expect(al.done).toBe(false);
    expect(v.done).toBe(false);
    fs.release();
    await until(() => al.done && v.done);
    expect(al.err).toBeUndefined();
    expect(v.err).toBeUndefined();
  });

  it('vitals spread over three seconds (one every 50 ms, each from its own device) share three commits, not sixty', async () => {
    for (let i = 0; i < 60; i++) {
      void buf.append(withPriority(1, 'vital', i).map((r) => ({ ...r, deviceId: `dev-${i}` })));
      await vi.advanceTimersByTimeAsync(50);
      fs.release();
    }
    await vi.advanceTimersByTimeAsync(1000);
    expect(committed(buf)).toBe(60);
    expect(units(buf)).toBe(3);
  });

  it(
    'an MQTT device that sends again as soon as it is acknowledged is committed within 25 ms; other devices, and the same device sending later, ' +
      'wait for the class delay',
    async () => {
      const from = (device: string, i: number) => withPriority(1, 'vital', i).map((r) => ({ ...r, deviceId: device, deviceKind: 'mqtt' as const }));
      const first = settled(buf.append(from('sensor-1', 0)));
      await vi.advanceTimersByTimeAsync(1000);
      expect(committed(buf)).toBe(1);
      await until(() => fs.held === 1);
      fs.release();
      await until(() => first.done);
      // sensor-2 was never acknowledged: it waits for its class's delay.
      void buf.append(from('sensor-2', 2));
      await vi.advanceTimersByTimeAsync(30);
      expect(committed(buf)).toBe(1);
      // 30 ms after its acknowledgement: sensor-1 waits for each one.
      void buf.append(from('sensor-1', 1));
      await vi.advanceTimersByTimeAsync(24);
      expect(committed(buf)).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(committed(buf)).toBe(3); // sensor-2's reading rides along in the same commit
      await until(() => fs.held === 1);
      fs.release();
      await until(() => fs.held === 0);
      // sensor-1 again, but 60 ms after its acknowledgement: a device with time between readings.
      await vi.advanceTimersByTimeAsync(60);
      void buf.append(from('sensor-1', 3));
      await vi.advanceTimersByTimeAsync(999);
      expect(committed(buf)).toBe(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(committed(buf)).toBe(4);
    },
  );

  it('a BLE or serial device appending right after its acknowledgement waits for the class delay: it is not waiting for the ack', async () => {
    for (const [i, kind] of (['ble', 'serial', 'simulator'] as const).entries()) {
      const from = (n: number) => withPriority(1, 'vital', n).map((r) => ({ ...r, deviceId: `${kind}-1`, deviceKind: kind }));
      const base = committed(buf);
      const first = settled(buf.append(from(10 * i)));
      await vi.advanceTimersByTimeAsync(1000);
      expect(committed(buf)).toBe(base + 1);
      await until(() => fs.held === 1);
      fs.release();
      await until(() => first.done);
      // 10 ms after its acknowledgement, as a strap streaming at 25 Hz through a batching adapter would.
      await vi.advanceTimersByTimeAsync(10);
      void buf.append(from(10 * i + 1));
      await vi.advanceTimersByTimeAsync(999); // the vital delay here is 1 s
      expect(committed(buf), kind).toBe(base + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(committed(buf), kind).toBe(base + 2);
      await until(() => fs.held === 1);
      fs.release();
      await until(() => fs.held === 0);
    }
  });

  it('commitFillReadings: a commit as soon as that many readings are pending, before any delay runs out', async () => {
    const other = testEnv('wg-pacing-fill-');
    const fill = await other.open({ commitIntervalMs: undefined, commitMaxDelayMs: { vital: 1000 }, commitFillReadings: 5 });
    try {
      void fill.append(withPriority(4, 'vital').map((r) => ({ ...r, deviceId: 'ward' })));
      await vi.advanceTimersByTimeAsync(10);
      expect(committed(fill)).toBe(0);
      void fill.append(withPriority(1, 'vital', 4).map((r) => ({ ...r, deviceId: 'ward-2' })));
      // No timer: the next turn of the event loop.
      await until(() => committed(fill) === 5);
    } finally {
      await fill.close();
      other.cleanup();
    }
  });
});
