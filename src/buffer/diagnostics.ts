/**
 * How the buffer tells a full disk from other failures, and reports failures through the
 * events table.
 */
import type { Events } from '../metrics/events.js';

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

/**
 * What the buffer reports, each with its `op` label: every report goes through the events table
 * (buffer_error or buffer_warning), so it is both counted and logged, rate-limited there.
 */
const REPORTS = {
  'buffer commit failed; readings refused': 'commit',
  'buffer fsync failed; readings refused (they may still be delivered)': 'fsync',
  'onCommit listener threw': 'commit_listener',
  'could not delete acknowledged units; will retry (they are not sent again)': 'delete_acked',
  'ack of an unknown lease ignored': 'unknown_lease',
  'a buffered unit is sealed with a key the key file lacks; kept, not sent (restore the key and restart)': 'missing_key',
  'could not shorten a partly delivered unit; it will be offered again whole': 'shorten_unit',
  'could not quarantine units; skipping them until restart': 'quarantine',
  'eviction for the byte cap failed': 'eviction',
  'could not allocate the disk-full reserve': 'reserve',
  'shedding failed; will retry': 'shedding',
  'buffer maintenance failed': 'maintenance',
  'evicted units held only gap records; no new gap record': 'gap_only',
  'buffered readings lost; gap record queued': 'gap_record',
  'gateway records (gap records) could not be committed before close': 'close_records',
  'applying the caps at open failed': 'caps_at_open',
  'disk full: shedding the lowest priority data until space returns': 'disk_full',
  'disk nearly full at open: shedding the lowest priority data until space returns': 'disk_full_at_open',
  'class counters did not match the stored units; reset': 'counters_reset',
  'the buffer database is damaged; leasing stopped (the next start salvages it)': 'damaged',
  'buffer database failed its integrity check; moved aside (kept); salvaging what still authenticates into a fresh buffer': 'moved_aside',
  'salvaged the readable units of the damaged buffer database': 'salvage',
  'key has sealed more than 2^31 units; rotate it (wardgate keygen --rotate)': 'key_worn',
  'cannot keep the clock steps in the buffer database; a restart would age older units by the wall clock': 'clock_steps',
} as const;

export type BufferReport = keyof typeof REPORTS;

/** Reports a failure (error) or a condition short of one (warn) of the buffer. */
export type LogLimited = (level: 'error' | 'warn', fields: Record<string, unknown>, msg: BufferReport) => void;

/** Reports through `events`: buffer_error / buffer_warning {op}, the message and fields as the log line's detail. */
export function eventReporter(events: Events): LogLimited {
  return (level, fields, msg) => events.emit(level === 'error' ? 'buffer_error' : 'buffer_warning', { op: REPORTS[msg] }, 1, { ...fields, what: msg });
}
