/**
 * fsync of the SQLite write-ahead log on libuv's thread pool, so a commit never blocks the
 * event loop on the disk (on a Raspberry Pi's SD card one fsync takes 5-50 ms; a ward commits
 * 40 times a second). The connection runs with synchronous=NORMAL: a commit's frames reach the
 * WAL file in the page cache before it returns; `after(cb)` calls `cb` once an fsync of the WAL
 * that started after that moment has completed, and only then is the commit durable (its
 * appends resolve, and the forwarder may lease it).
 *
 * One round at a time: open the WAL by path, fsync, close. Waiters that arrive while a round is
 * running wait for the next one (the running one may have started before their write). A round
 * opens the file by path, so it always syncs the WAL SQLite is writing, whatever happened to an
 * earlier descriptor (SQLite deletes the WAL only when the last connection closes, after a
 * checkpoint it has synced itself).
 */
import { close, fsync, open } from 'node:fs';
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
    const finish = (err: Error | null) => {
      if (this.running !== waiters) return; // syncNow took them
      this.running = undefined;
      this.rounds++;
      for (const w of waiters) w(err ?? undefined);
      if (this.next.length) this.startRound();
    };
    this.fs.open(this.walPath, (err, fd) => {
      if (err) return finish(err);
      this.fs.fsync(fd, (syncErr) => {
        this.fs.close(fd, () => finish(syncErr));
      });
    });
  }
}
