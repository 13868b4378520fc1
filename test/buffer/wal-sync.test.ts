import { existsSync, fstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BufferRefused, DB_FILE } from '../../src/buffer/index.js';
import { nodeSyncFs, type SyncFs, WalSync } from '../../src/buffer/wal-sync.js';
import { type TestEnv, testEnv, withPriority } from './helpers.js';

/** The real node:fs calls, but each fsync waits until the test lets it go (or fails it). */
function heldFs(): SyncFs & { opens: number; held: number; heldFd(): number | undefined; release(): void; fail(code: string): void } {
  const queue: { fd: number; cb: (err: Error | null) => void }[] = [];
  const fs = {
    opens: 0,
    get held() {
      return queue.length;
    },
    heldFd: () => queue[0]?.fd,
    open(path: string, cb: (err: Error | null, fd: number) => void) {
      fs.opens++;
      nodeSyncFs.open(path, cb);
    },
    fsync(fd: number, cb: (err: Error | null) => void) {
      queue.push({ fd, cb });
    },
    close: nodeSyncFs.close,
    release() {
      for (const q of queue.splice(0)) nodeSyncFs.fsync(q.fd, q.cb);
    },
    fail(code: string) {
      for (const q of queue.splice(0)) q.cb(Object.assign(new Error(`${code}: injected`), { code }));
    },
  };
  return fs;
}

/** A WAL file with frames in it, and a WalSync over it whose fsyncs the test lets go. */
function heldWal(dir: string) {
  const path = join(dir, 'x-wal');
  writeFileSync(path, 'frames');
  const fs = heldFs();
  return { fs, w: new WalSync(path, fs) };
}

const settled = (p: Promise<unknown>) => {
  const s = { done: false, err: undefined as unknown };
  p.then(
    () => (s.done = true),
    (e) => {
      s.done = true;
      s.err = e;
    },
  );
  return s;
};

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('WalSync', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wg-walsync-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a waiter that arrives during a round waits for the next round', async () => {
    const { fs, w } = heldWal(dir);
    const calls: string[] = [];
    w.after(() => calls.push('a'));
    await until(() => fs.held === 1);
    w.after(() => calls.push('b'));
    w.after(() => calls.push('c'));
    expect(w.waiting).toBe(3);
    fs.release();
    await until(() => calls.length >= 1);
    expect(calls).toEqual(['a']); // b and c wrote after round 1 began
    await until(() => fs.held === 1);
    expect(fs.opens).toBe(1); // the second round fsyncs the descriptor the first one opened
    fs.release();
    await until(() => calls.length === 3);
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(w.rounds).toBe(2);
    expect(w.waiting).toBe(0);
  });

  it('syncNow settles every waiter at once; the round it overtook calls nobody', async () => {
    const { fs, w } = heldWal(dir);
    const calls: (Error | undefined)[] = [];
    w.after((e) => calls.push(e));
    await until(() => fs.held === 1);
    w.after((e) => calls.push(e));
    w.syncNow();
    expect(calls).toEqual([undefined, undefined]);
    fs.release();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.length).toBe(2);
  });

  it('after a failed fsync the next round opens the WAL again; close() lets the descriptor go after the round in flight', async () => {
    const { fs, w } = heldWal(dir);
    const got: (Error | undefined)[] = [];
    w.after((e) => got.push(e));
    await until(() => fs.held === 1);
    fs.fail('EIO');
    await until(() => got.length === 1);
    expect((got[0] as NodeJS.ErrnoException).code).toBe('EIO');
    w.after((e) => got.push(e));
    await until(() => fs.held === 1);
    expect(fs.opens).toBe(2);
    const fd = fs.heldFd()!;
    w.syncNow(); // the buffer's close: settles the waiter on this thread...
    w.close(); // ...and the descriptor stays open while the pool's fsync holds it
    expect(got).toEqual([got[0], undefined]);
    expect(() => fstatSync(fd)).not.toThrow();
    fs.release();
    await until(() => {
      try {
        fstatSync(fd);
        return false;
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EBADF';
      }
    });
  });

  it('a missing WAL is an error for waiters, and nothing to do without them', async () => {
    const w = new WalSync(join(dir, 'none-wal'));
    expect(() => w.syncNow()).not.toThrow();
    const got = await new Promise<Error | undefined>((r) => w.after(r));
    expect((got as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('buffer with synchronous full: a commit counts only after its WAL fsync', () => {
  let env: TestEnv;
  beforeEach(() => {
    env = testEnv();
  });
  afterEach(() => env.cleanup());

  it('the append resolves, onCommit fires and the readings are leasable only after the fsync', async () => {
    const fs = heldFs();
    const buf = await env.open({ walSyncFs: fs });
    expect(existsSync(join(env.dir, `${DB_FILE}-wal`))).toBe(true);
    let commits = 0;
    buf.onCommit(() => commits++);
    const a = settled(buf.append(withPriority(5, 'vital')));
    await until(() => fs.held === 1);
    // Committed to the WAL (the counters say so), not yet on disk: held back.
    expect(buf.stats().totalReadings).toBe(5);
    await new Promise((r) => setTimeout(r, 20));
    expect(a.done).toBe(false);
    expect(commits).toBe(0);
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })).toBeNull();
    fs.release();
    await until(() => a.done);
    expect(a.err).toBeUndefined();
    expect(commits).toBe(1);
    const l = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 });
    expect(l?.readings.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    await buf.close();
  });

  it('a lease stops at the first commit still waiting: older durable units go, newer wait', async () => {
    const fs = heldFs();
    const buf = await env.open({ walSyncFs: fs, unitMaxReadings: 4 });
    const first = buf.append(withPriority(4, 'vital'));
    await until(() => fs.held === 1);
    fs.release();
    await first;
    const second = settled(buf.append(withPriority(4, 'vital', 4)));
    await until(() => fs.held === 1);
    const l = buf.lease({ maxReadings: 100, maxBytes: 1 << 20 });
    expect(l?.readings.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })).toBeNull();
    fs.release();
    await until(() => second.done);
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })?.readings.map((r) => r.seq)).toEqual([5, 6, 7, 8]);
    await buf.close();
  });

  /** A buffer whose fsync rounds the test holds, with 3 readings committed and their fsync held. */
  async function heldAppend() {
    const fs = heldFs();
    const buf = await env.open({ walSyncFs: fs });
    const a = settled(buf.append(withPriority(3, 'vital')));
    await until(() => fs.held === 1);
    return { fs, buf, a };
  }

  it('a failed fsync refuses that commit (io_error, counted); the next commit works', async () => {
    const { fs, buf, a } = await heldAppend();
    fs.fail('EIO');
    await until(() => a.done);
    expect(a.err).toBeInstanceOf(BufferRefused);
    expect((a.err as BufferRefused).reason).toBe('io_error');
    expect(await env.events.count('reading_refused', { reason: 'io_error' })).toBe(3);
    const b = settled(buf.append(withPriority(2, 'vital', 3)));
    await until(() => fs.held === 1);
    fs.release();
    await until(() => b.done);
    expect(b.err).toBeUndefined();
    await buf.close();
  });

  it('close settles commits whose fsync is still running', async () => {
    const { buf, a } = await heldAppend();
    await buf.close();
    await until(() => a.done);
    expect(a.err).toBeUndefined();
    const again = await env.open();
    expect(again.stats().totalReadings).toBe(3);
    await again.close();
  });

  it('synchronous normal needs no fsync: readings are leasable when the append resolves', async () => {
    const fs = heldFs();
    const buf = await env.open({ walSyncFs: fs, synchronous: 'normal' });
    await buf.append(withPriority(3, 'vital'));
    expect(fs.opens).toBe(0);
    expect(buf.lease({ maxReadings: 100, maxBytes: 1 << 20 })?.readings.length).toBe(3);
    await buf.close();
  });
});
