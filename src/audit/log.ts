/**
 * The audit log: security-relevant events (start/stop, configuration loaded, key creation,
 * rotation and retirement, MQTT login failures and ACL denials with their source, quarantine,
 * eviction) appended to `<dataDir>/audit.log`, one JSON object per line, hash-chained:
 *
 *   {"seq":7,"time":"2026-12-06T01:50:00.000Z","event":"key_rotated","detail":{...},"prev":"<hash of line 6>","hash":"<sha256>"}
 *
 * `hash` = sha256(prev + "\n" + the line's JSON without its hash field). An edited line no longer
 * matches its hash, a deleted or moved line breaks the next line's `prev` and the seq run
 * (`wardgate audit verify`, ./verify.ts). Each append is written and fsynced before it returns,
 * like a buffer commit, so a record survives a power cut once append() returned; a line torn by
 * a power cut mid-write is cut off at the next open and that is itself recorded (`torn_tail`).
 * Appends from several processes (the gateway, `wardgate keygen`) are serialised by a lock
 * file next to it. No patient data and no secret goes in: device ids, users, addresses, counts.
 *
 * What a plain hash chain cannot do: someone who can write the file can rewrite it whole with a
 * new valid chain, and cutting off the newest lines leaves a valid shorter chain. Compare the
 * head (seq and hash) that the gateway logs at every stop with `wardgate audit verify`'s.
 */

import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sleepSync } from '../sleep-sync.js';

const AUDIT_FILE = 'audit.log';
export const GENESIS = '0'.repeat(64);

export interface AuditRecord {
  seq: number;
  time: string;
  event: string;
  detail: Record<string, unknown>;
  prev: string;
  hash: string;
}

export const auditPath = (dataDir: string): string => join(dataDir, AUDIT_FILE);

/** The hash of a record: sha256 over the previous hash and the record's JSON without its hash. */
export function recordHash(r: Omit<AuditRecord, 'hash'>): string {
  const body = JSON.stringify({ seq: r.seq, time: r.time, event: r.event, detail: r.detail, prev: r.prev });
  return createHash('sha256').update(`${r.prev}\n${body}`).digest('hex');
}

function formatRecord(r: Omit<AuditRecord, 'hash'>): string {
  return JSON.stringify({ seq: r.seq, time: r.time, event: r.event, detail: r.detail, prev: r.prev, hash: recordHash(r) });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A lock file with no pid in it this long after it was made was left half-made (a power cut, say). */
const EMPTY_LOCK_STALE_MS = 5000;

/**
 * Holds `<file>.lock` (O_EXCL, the holder's pid in it) around `step`; a lock left by a dead
 * process, or left without a pid for longer than EMPTY_LOCK_STALE_MS, is taken over.
 */
function withLock<T>(file: string, step: () => T): T {
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = NaN;
      let age = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8') || NaN);
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        /* gone meanwhile */
      }
      const stale = Number.isInteger(holder) && holder > 0 ? !pidAlive(holder) : age > EMPTY_LOCK_STALE_MS;
      if (stale) {
        try {
          unlinkSync(lock);
        } catch {
          /* someone else took it over */
        }
        continue;
      }
      if (attempt > 500) throw new Error(`audit log ${file}: lock ${lock} held by pid ${holder}`);
      sleepSync(2);
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
    } catch (e) {
      // Made but not written (a full disk): not left behind for the next append to wait on.
      closeSync(fd);
      unlinkSync(lock);
      throw e;
    }
    closeSync(fd);
    break;
  }
  try {
    return step();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone */
    }
  }
}

/** The last complete line of the open file and where it ends; a partial line after it is `torn` bytes. */
function tail(fd: number): { last: string | null; end: number; torn: Buffer | null } {
  const size = fstatSync(fd).size;
  if (size === 0) return { last: null, end: 0, torn: null };
  let chunk = 4096;
  for (;;) {
    const start = Math.max(0, size - chunk);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const lastNl = buf.lastIndexOf(0x0a);
    if (lastNl === -1 && start > 0) {
      chunk *= 2;
      continue;
    }
    const end = lastNl === -1 ? 0 : start + lastNl + 1;
    const torn = end < size ? buf.subarray(end - start) : null;
    if (lastNl === -1) return { last: null, end: 0, torn };
    const prevNl = buf.lastIndexOf(0x0a, lastNl - 1);
    if (prevNl === -1 && start > 0) {
      chunk *= 2;
      continue;
    }
    return { last: buf.subarray(prevNl + 1, lastNl).toString('utf8'), end, torn };
  }
}

export class AuditLog {
  private closed = false;
  /** Seq and hash of the newest record this process knows of. */
  head: { seq: number; hash: string } = { seq: 0, hash: GENESIS };

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  static forDataDir(dataDir: string, now?: () => number): AuditLog {
    return new AuditLog(auditPath(dataDir), now);
  }

  /**
   * Appends one record, durably (write + fsync of the file; the folder too when the file is new).
   * Throws when it cannot: the caller decides whether that stops it.
   */
  append(event: string, detail: Record<string, unknown> = {}): AuditRecord {
    if (this.closed) throw new Error('audit log closed');
    return withLock(this.file, () => {
      const fd = openSync(this.file, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
      try {
        const created = fstatSync(fd).size === 0;
        const t = tail(fd);
        let prev = GENESIS;
        let seq = 0;
        if (t.last !== null) {
          const last = JSON.parse(t.last) as AuditRecord;
          prev = last.hash;
          seq = last.seq;
        }
        const lines: string[] = [];
        if (t.torn) {
          // A line cut by a power cut was never acknowledged: cut it off, and say so in the chain.
          ftruncateSync(fd, t.end);
          const r = {
            seq: seq + 1,
            time: new Date(this.now()).toISOString(),
            event: 'torn_tail',
            detail: { bytes: t.torn.length, sha256: createHash('sha256').update(t.torn).digest('hex') },
            prev,
          };
          lines.push(formatRecord(r));
          prev = recordHash(r);
          seq += 1;
        }
        const rec = { seq: seq + 1, time: new Date(this.now()).toISOString(), event, detail, prev };
        const hash = recordHash(rec);
        lines.push(JSON.stringify({ ...rec, hash }));
        writeSync(fd, `${lines.join('\n')}\n`);
        fsyncSync(fd);
        if (created) fsyncDir(dirname(this.file));
        this.head = { seq: rec.seq, hash };
        return { ...rec, hash };
      } finally {
        closeSync(fd);
      }
    });
  }

  close(): void {
    this.closed = true;
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* some file systems refuse fsync on a folder */
  }
}
