/**
 * How the buffer tells a full disk from other failures, and reports failures without
 * flooding the log.
 */
import type { Logger } from '../logger.js';

export function sqliteErrorCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** The database file is damaged (a page fails SQLite's checks): only moving it aside and salvaging helps. */
export function isCorruption(e: unknown): boolean {
  const c = sqliteErrorCode(e);
  return c !== undefined && (c.startsWith('SQLITE_CORRUPT') || c === 'SQLITE_NOTADB');
}

export const errInfo = (e: unknown) => ({ code: sqliteErrorCode(e), message: (e as Error)?.message });

export function refusalReason(e: unknown): 'disk_full' | 'io_error' {
  const c = sqliteErrorCode(e);
  if (c && (c.startsWith('SQLITE_FULL') || c === 'ENOSPC' || c === 'SQLITE_IOERR_SHMSIZE')) return 'disk_full';
  return 'io_error';
}

export type LogLimited = (level: 'error' | 'warn' | 'info', fields: Record<string, unknown>, msg: string) => void;

/** Logs at most once per 10 s per message; the next line says how many were suppressed. */
export function rateLimitedLog(log: Logger, now: () => number): LogLimited {
  const windows = new Map<string, { at: number; suppressed: number }>();
  return (level, fields, msg) => {
    const t = now();
    const w = windows.get(msg);
    if (w && t - w.at < 10_000) {
      w.suppressed++;
      return;
    }
    windows.set(msg, { at: t, suppressed: 0 });
    log[level]({ ...fields, suppressedSinceLastLog: w?.suppressed ?? 0 }, msg);
  };
}
