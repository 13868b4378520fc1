/**
 * The running gateway writes its live status to a small JSON file in the data folder once a
 * second (atomically: write + rename); `wardgate status` reads it. No patient data in it.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
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

export function writeStatusFile(path: string, s: LiveStatus): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(s), { mode: 0o640 });
  renameSync(tmp, path);
}

export function readStatusFile(path: string): LiveStatus | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LiveStatus;
  } catch {
    return null;
  }
}
