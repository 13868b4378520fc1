/**
 * Sequence numbers: the high-water mark (meta table, committed with the units) and the
 * reservation file beside the database. A seq is committed only below the number in
 * `buffer.seq`, which outlives a database moved aside, so a seq is never handed out twice.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { type Meta, metaKey } from './schema.js';

/** Sequence reservation: the buffer never commits a seq above the number in this file. */
export const SEQ_FILE = 'buffer.seq';
const SEQ_BLOCK = 1 << 20;

export function readSeqFile(dir: string): number {
  try {
    const n = Number(readFileSync(join(dir, SEQ_FILE), 'utf8').trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

function writeSeqFile(dir: string, reserved: number): void {
  const path = join(dir, SEQ_FILE);
  writeFileDurably(path, `${reserved}\n`, 0o600);
}

export class Sequence {
  /** Highest seq committed (0 when none). Set by the commit that writes it to the meta table. */
  hwm: number;
  /**
   * Highest seq known to be on disk: the WAL was fsynced after its commit (synchronous 'full'),
   * or equal to `hwm` ('normal'). Leases stop below it, so nothing is sent that a power cut
   * could take back and a later commit could reuse the seq of.
   */
  durable: number;
  private reserved: number;

  /** `seqFloor`: where a fresh database starts (above every seq ever reserved in this folder). */
  constructor(
    private readonly dir: string,
    meta: Meta,
    seqFloor: number,
  ) {
    const hwm = meta.num(metaKey.hwm);
    if (hwm === undefined) {
      this.hwm = seqFloor;
      meta.set(metaKey.hwm, this.hwm);
    } else this.hwm = hwm;
    this.durable = this.hwm;
    this.reserved = Math.max(readSeqFile(dir), this.hwm);
  }

  /** Reserves, in the side file, every seq up to `last` (in blocks of 2^20) before it can be committed. */
  reserve(last: number): void {
    if (last <= this.reserved) return;
    const r = last + SEQ_BLOCK;
    writeSeqFile(this.dir, r);
    this.reserved = r;
  }
}
