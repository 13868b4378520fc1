/** Crash-safe small-file writes: write a temporary file, fsync it, rename it over, fsync the folder. */

import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Opens `path` read-only (a file or a folder), fsyncs and closes it, on this thread. */
export function fsyncPathSync(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function fsyncDir(dir: string): void {
  try {
    fsyncPathSync(dir);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Replaces `path` with `data` atomically and durably; the file gets `mode` whatever the umask. */
export function writeFileDurably(path: string, data: string | Buffer, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    // write(2) may write less than asked (a signal, a nearly full disk): write the rest.
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < bytes.length; ) {
      const n = writeSync(fd, bytes, off, bytes.length - off);
      if (n <= 0) throw new Error(`short write to ${tmp}`);
      off += n;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
