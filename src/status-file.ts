/**
 * The running gateway writes its live status to a small JSON file in the data folder once a
 * second; `wardgate status` reads it. No patient data in it.
 *
 * Written in place (one pwrite at offset 0, padded with spaces to the file's length so that a
 * shorter status leaves no stale tail), not as a new file renamed over the old one: on ext4 a
 * rename over an existing file forces the new file's blocks out at once (auto_da_alloc), which
 * cost a 4 KiB block and its journal commit on the SD card every second and blocked the event
 * loop for the write-out (the status file was ~25 B per reading of `wardgate simulate --beds
 * 30`). In place, the page is written back with the rest of the page cache. A reader may meet a
 * write half done (or a file torn by a power loss): readStatusFile reads again, then says null.
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ForwarderStatus } from './forwarder/state.js';

export interface LiveStatus {
  pid: number;
  gatewayId: string;
  startedAt: number;
  updatedAt: number;
  mode: 'run' | 'simulate';
  /** Set by the last write of a cleanly stopped gateway. */
  stoppedAt?: number;
  brokers: string[];
  forwarder: ForwarderStatus;
  ingestedTotal: number;
  readingsPerSecond: number;
  adapters: { family: string; state: string; devices: number; detail?: string }[];
  /** The last SIGHUP reload: applied settings, those waiting for a restart, families that kept their old settings, or why the file was refused. */
  lastReload?: ReloadStatus;
}

export interface ReloadStatus {
  at: number;
  ok: boolean;
  applied: string[];
  needsRestart: string[];
  failed: { family: string; error: string }[];
  error?: string;
}

export const statusFilePath = (dataDir: string, override?: string): string => override ?? join(dataDir, 'status.json');

/** A file this much longer than the status (a long detail once) is cut back to it. */
const SHRINK_SLACK = 4096;

export function writeStatusFile(path: string, s: LiveStatus): void {
  const text = JSON.stringify(s);
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o640);
  try {
    const size = fstatSync(fd).size;
    const len = Buffer.byteLength(text);
    // JSON.parse ignores trailing white space: the padding covers the rest of a longer earlier status.
    const body = size > len && size - len <= SHRINK_SLACK ? text + ' '.repeat(size - len) : text;
    writeSync(fd, body, 0);
    if (size > len + SHRINK_SLACK) ftruncateSync(fd, len);
  } finally {
    closeSync(fd);
  }
}

export function readStatusFile(path: string): LiveStatus | null {
  // A read that met a write half done does not parse: read again (a write takes microseconds).
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return JSON.parse(readFileSync(path, 'utf8')) as LiveStatus;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== undefined) return null; // no file, no access
    }
  }
  return null;
}
