/**
 * fsync of the SQLite write-ahead log on libuv's thread pool, so a commit never blocks the
 * event loop on the disk (on a Raspberry Pi's SD card one fsync takes 5-50 ms; a ward commits
 * 40 times a second). The connection runs with synchronous=NORMAL: a commit's frames reach the
 * WAL file in the page cache before it returns; `after(cb)` calls `cb` once an fsync of the WAL
 * that started after that moment has completed, and only then is the commit durable (its
 * appends resolve, and the forwarder may lease it).
 *
 * One round at a time: fsync the WAL. Waiters that arrive while a round is running wait for the
 * next one (the running one may have started before their write). The first round opens the WAL
 * by path and keeps the descriptor for the next ones: one trip through the thread pool per round
 * instead of three (open, fsync, close: each a hand-off to a pool thread and a wake-up of the event
 * loop). The descriptor stays the file SQLite writes: while the connection is open SQLite rewrites
 * and truncates its WAL in place, and deletes it only when the last connection closes (after a
 * checkpoint it has synced itself); the buffer's lock keeps any other process out. After a failed
 * fsync the descriptor is dropped and the next round opens the WAL again. `close()` lets it go.
 */
import { close, closeSync, fsync, open } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir, fsyncPathSync } from '../durable-file.js';

export type SyncDone = (err?: Error) => void;

/** The file operations a round uses (node:fs; tests may hold a round back). */
export interface SyncFs {
  open(path: string, cb: (err: Error | null, fd: number) => void): void;
  fsync(fd: number, cb: (err: Error | null) => void): void;
  close(fd: number, cb: (err: Error | null) => void): void;
}

export const nodeSyncFs: SyncFs = {
  open: (path, cb) => open(path, 'r', cb),
  fsync: (fd, cb) => fsync(fd, cb),
  close: (fd, cb) => close(fd, cb),
};

export class WalSync {
  /** Waiters covered by the round now running. */
  private running: SyncDone[] | undefined;
  /** Waiters for the next round. */
  private next: SyncDone[] = [];
  /** Completed rounds (for tests). */
  rounds = 0;
  /** The WAL's descriptor, kept between rounds (undefined: not open). */
  private fd: number | undefined;
  private closed = false;
  /** A round's open or fsync is on the thread pool (syncNow may have taken its waiters meanwhile). */
  private inFlight = false;

  constructor(
    readonly walPath: string,
    private readonly fs: SyncFs = nodeSyncFs,
  ) {}

  /** Calls `done` after an fsync of the WAL that starts after this call (with the error if it failed). */
  after(done: SyncDone): void {
    this.next.push(done);
    if (!this.running) this.startRound();
  }

  /** Waiters not yet called. */
  get waiting(): number {
    return this.next.length + (this.running?.length ?? 0);
  }

  /**
   * fsyncs the WAL (and its folder where the filesystem allows it, so a WAL created since the
   * last call is found after a power cut) on this thread and calls every waiter: at open, and at
   * close, when nothing may wait. A round still running finds no waiters when it completes.
   */
  syncNow(): void {
    const waiters = [...(this.running ?? []), ...this.next];
    this.running = undefined;
    this.next = [];
    let err: Error | undefined;
    try {
      fsyncPathSync(this.walPath);
    } catch (e) {
      // No WAL yet (nothing written since it was last checkpointed away): nothing to sync.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || waiters.length > 0) err = e as Error;
    }
    fsyncDir(dirname(this.walPath));
    for (const w of waiters) w(err);
  }

  private startRound(): void {
    const waiters = this.next;
    this.next = [];
    this.running = waiters;
    this.inFlight = true;
    const finish = (err: Error | null) => {
      this.inFlight = false;
      if (this.running !== waiters) return; // syncNow took them
      this.running = undefined;
      this.rounds++;
      for (const w of waiters) w(err ?? undefined);
      if (this.next.length) this.startRound();
    };
    const sync = (fd: number) =>
      this.fs.fsync(fd, (syncErr) => {
        if (syncErr || this.closed) {
          // Not trusted again after an error (the next round opens the WAL anew), nor kept after close.
          if (this.fd === fd) this.fd = undefined;
          this.fs.close(fd, () => finish(syncErr));
        } else finish(null);
      });
    if (this.fd !== undefined) {
      sync(this.fd);
      return;
    }
    this.fs.open(this.walPath, (err, fd) => {
      if (err) return finish(err);
      if (!this.closed) this.fd = fd;
      sync(fd);
    });
  }

  /** Lets the descriptor go (the buffer is closing): now, or when the round running ends. */
  close(): void {
    this.closed = true;
    if (this.fd === undefined || this.inFlight) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // already gone: nothing to let go
    }
  }
}
