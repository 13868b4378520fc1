/**
 * One writer per buffer: two gateways (or a service and a `wardgate simulate` started by
 * hand) on one data folder would hand out the same sequence numbers. The lock file holds
 * the owner's pid and process start time; a lock whose owner is gone is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BufferRefused } from './types.js';

export const LOCK_FILE = 'buffer.lock';

interface Owner {
  pid: number;
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat field 22), when known. */
  start?: string;
}

function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function alive(o: Owner): boolean {
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (o.start === undefined) return true;
  const now = procStart(o.pid);
  return now === undefined || now === o.start;
}

function readOwner(path: string): { raw: string; owner: Owner | undefined } | undefined {
  try {
    const raw = readFileSync(path, 'utf8');
    try {
      const o = JSON.parse(raw) as Owner;
      return { raw, owner: Number.isInteger(o.pid) ? o : undefined };
    } catch {
      return { raw, owner: undefined };
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Takes the folder's lock or throws BufferRefused naming the owner. Returns the release function. */
export function lockDataDir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid };
  const start = procStart(process.pid);
  if (start !== undefined) me.start = start;
  const mine = JSON.stringify(me);
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw readOnly(dir, e) ?? e;
      const cur = readOwner(path);
      if (cur === undefined) continue; // released meanwhile
      if (cur.owner && alive(cur.owner)) {
        const who = cur.owner.pid === process.pid ? 'this process (already open)' : `another process (pid ${cur.owner.pid})`;
        throw new BufferRefused('io_error', `the buffer in ${dir} is in use by ${who}; one gateway per data folder`);
      }
      // Stale: take it over, unless someone else did in the meantime.
      const again = readOwner(path);
      if (again && again.raw === cur.raw) {
        try {
          unlinkSync(path);
        } catch (e) {
          const ro = readOnly(dir, e);
          if (ro) throw ro; // else someone else removed it
        }
      }
      continue;
    }
    try {
      writeSync(fd, mine);
    } catch (e) {
      // Not written (a full disk): an empty lock would be taken over anyway, but leave none behind.
      closeSync(fd);
      unlinkSync(path);
      throw e;
    }
    closeSync(fd);
    return () => {
      const cur = readOwner(path);
      if (cur?.raw === mine) {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      }
    };
  }
  throw new BufferRefused('io_error', `could not take the lock ${path}`);
}

/**
 * A data folder on a read-only file system is said so: the kernel makes an SD card's file system
 * read-only after I/O errors (ext4 errors=remount-ro; the mount may still read "rw"), and the lock
 * left behind then cannot be taken over, which read as "could not take the lock".
 */
function readOnly(dir: string, e: unknown): BufferRefused | undefined {
  if ((e as NodeJS.ErrnoException).code !== 'EROFS') return undefined;
  return new BufferRefused(
    'io_error',
    `the data folder ${dir} is on a read-only file system (EROFS): nothing can be buffered. ` +
      'A card the kernel made read-only after I/O errors is failing (see dmesg): replace it',
  );
}
