/**
 * What a power cut can leave on disk, from the recorded system calls (./strace.ts).
 *
 * The model is POSIX's promise and no more:
 *  - a file's contents survive up to the last fsync/fdatasync of that file that COMPLETED before
 *    the cut: every write that had returned before that fsync STARTED is on disk;
 *  - any other write that had returned before the cut may or may not be on disk (each one
 *    independently, whole: the harness chooses a random subset, applied in order);
 *  - names (create, rename, unlink) survive up to the last completed fsync of the folder; after
 *    it, a prefix of the later name operations (a journaling file system keeps their order);
 *  - the page cache is lost; a killed process is not a power cut (its writes stay).
 * Files are tracked as inodes, so a rename moves contents and an unlinked file's writes vanish.
 */
import { dirname } from 'node:path';
import type { FsEvent } from './strace.js';

interface ContentOp {
  t: number;
  off: number; // -1: truncate to len
  data: Buffer | null;
  len: number;
}

interface Inode {
  id: number;
  ops: ContentOp[];
  /** [start, end] of each completed fsync of this inode. */
  syncs: { start: number; t: number }[];
}

interface NameOp {
  t: number;
  apply(ns: Map<string, Inode>): void;
}

export type Rng = () => number;

export function xorshift(seed: number): Rng {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export class PowerCutModel {
  private readonly inodes: Inode[] = [];
  private readonly nameOps: NameOp[] = [];
  private readonly dirSyncs: { start: number; t: number }[] = [];
  /** Lines the process wrote to stdout, with the index at which the write returned. */
  readonly out: { line: string; t: number }[] = [];
  /** Index just after the last event. */
  readonly end: number;
  /** Completed fsync/fdatasync calls on files of the folder (for the report). */
  fileSyncs = 0;

  /** `initial`: files that exist, durably, before the first event (empty in the harness). */
  constructor(
    readonly dataDir: string,
    events: FsEvent[],
  ) {
    const live = new Map<string, Inode>();
    const pos = new Map<number, number>();
    let end = 0;
    const inode = (name: string): Inode => {
      const i = live.get(name);
      if (!i) throw new Error(`a file the model never saw created: ${name}`);
      return i;
    };
    for (const e of events) {
      end = Math.max(end, e.t + 1);
      switch (e.k) {
        case 'out':
          this.out.push({ line: e.line, t: e.t });
          break;
        case 'create': {
          let i = live.get(e.name);
          if (!i) {
            i = { id: this.inodes.length, ops: [], syncs: [] };
            this.inodes.push(i);
            live.set(e.name, i);
            const made = i;
            this.nameOps.push({ t: e.t, apply: (ns) => ns.set(e.name, made) });
          }
          if (e.trunc) i.ops.push({ t: e.t, off: -1, data: null, len: 0 });
          break;
        }
        case 'close':
          pos.set(e.fd, 0);
          break;
        case 'write': {
          const i = inode(e.name);
          let off = e.off;
          if (off === null) {
            off = pos.get(e.fd) ?? 0;
            pos.set(e.fd, off + e.data.length);
          }
          i.ops.push({ t: e.t, off, data: e.data, len: e.data.length });
          break;
        }
        case 'trunc':
          inode(e.name).ops.push({ t: e.t, off: -1, data: null, len: e.len });
          break;
        case 'sync':
          if (e.name === dataDir) this.dirSyncs.push({ start: e.start, t: e.t });
          else {
            inode(e.name).syncs.push({ start: e.start, t: e.t });
            this.fileSyncs++;
          }
          break;
        case 'rename': {
          if (dirname(e.from) !== dataDir || dirname(e.to) !== dataDir) throw new Error(`rename across folders: ${e.from} -> ${e.to}`);
          const i = inode(e.from);
          live.delete(e.from);
          live.set(e.to, i);
          this.nameOps.push({
            t: e.t,
            apply: (ns) => {
              ns.delete(e.from);
              ns.set(e.to, i);
            },
          });
          break;
        }
        case 'unlink':
          inode(e.name);
          live.delete(e.name);
          this.nameOps.push({ t: e.t, apply: (ns) => ns.delete(e.name) });
          break;
      }
    }
    this.end = end;
  }

  /** Start index of the last fsync among `syncs` that completed before `cut` (-1: none). */
  private static syncedBefore(syncs: { start: number; t: number }[], cut: number): number {
    let s = -1;
    for (const x of syncs) if (x.t < cut && x.start > s) s = x.start;
    return s;
  }

  /** Identifies the image holding only what was fsynced before `cut` (equal keys: equal images). */
  syncedKey(cut: number): string {
    return [PowerCutModel.syncedBefore(this.dirSyncs, cut), ...this.inodes.map((i) => PowerCutModel.syncedBefore(i.syncs, cut))].join(',');
  }

  /** Writes that had returned before `cut` but were not covered by a completed fsync. */
  unsyncedAt(cut: number): number {
    let n = 0;
    for (const i of this.inodes) {
      const s = PowerCutModel.syncedBefore(i.syncs, cut);
      for (const op of i.ops) if (op.t >= s && op.t < cut) n++;
    }
    return n;
  }

  /**
   * The files (name in the folder -> contents) after a power cut at `cut`. `keep(op)` decides,
   * for each unsynced write, and for each later name operation (as a prefix), whether it made it.
   */
  imageAt(cut: number, keep: Rng | 'none' | 'all'): Map<string, Buffer> {
    const pick = (): boolean => (keep === 'none' ? false : keep === 'all' ? true : keep() < 0.5);
    const ns = new Map<string, Inode>();
    const dirSynced = PowerCutModel.syncedBefore(this.dirSyncs, cut);
    let prefixOpen = true;
    for (const op of this.nameOps) {
      if (op.t >= cut) break;
      if (op.t < dirSynced) op.apply(ns);
      else if (prefixOpen && pick()) op.apply(ns);
      else prefixOpen = false;
    }
    const files = new Map<string, Buffer>();
    const contents = new Map<Inode, Buffer>();
    for (const [name, i] of ns) {
      let buf = contents.get(i);
      if (!buf) {
        const synced = PowerCutModel.syncedBefore(i.syncs, cut);
        buf = Buffer.alloc(0);
        for (const op of i.ops) {
          if (op.t >= cut) break;
          if (op.t >= synced && !pick()) continue;
          buf = applyOp(buf, op);
        }
        contents.set(i, buf);
      }
      files.set(name.slice(this.dataDir.length + 1), buf);
    }
    return files;
  }
}

function applyOp(buf: Buffer, op: ContentOp): Buffer {
  if (op.off < 0) {
    if (op.len <= buf.length) return Buffer.from(buf.subarray(0, op.len));
    return Buffer.concat([buf, Buffer.alloc(op.len - buf.length)]);
  }
  const end = op.off + op.len;
  const out = end > buf.length ? Buffer.concat([buf, Buffer.alloc(end - buf.length)]) : buf;
  op.data!.copy(out, op.off);
  return out;
}
