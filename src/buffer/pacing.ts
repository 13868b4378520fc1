/**
 * Commit pacing: the longest a reading of each class waits for its group commit. A commit
 * costs the SD card whole pages (the unit's leaf, the meta page, the WAL frame headers, and
 * the same pages again at the checkpoint), whatever it holds; committing a ward's readings
 * every half second instead of every few milliseconds fills those pages and cuts the bytes
 * written per reading (README, performance, has the figures). The cost is latency: a vital is
 * acknowledged to its device, and visible to the forwarder, up to its delay later (alarms: at
 * once).
 *
 * A device that waits for each acknowledgement before it sends again (an MQTT sensor with one
 * message in flight, a backlog after a reconnect) would be held to one reading per delay: an
 * append from a device whose previous append was acknowledged at most WAITING_TURNAROUND_MS
 * before is committed within WAITING_COMMIT_DELAY_MS instead. A device reporting once a second
 * sends its next reading about half a second after its acknowledgement and is not affected.
 * Only MQTT publishers wait for acknowledgements (PUBACK goes out after the commit): BLE
 * notifications and serial streams arrive whatever the buffer does, and their adapters batch
 * many devices every few milliseconds, so the rule applied to them would commit many times a
 * second for no device that was waiting.
 */
import { type DeviceKind, PRIORITY_CLASSES, type PriorityClass } from '../reading.js';

export type CommitMaxDelays = Partial<Record<Exclude<PriorityClass, 'alarm'>, number>>;

/** The default delays (buffer.commitMaxDelay): vital and status 500 ms, waveform 1 s (alarms at once). */
const DEFAULT_COMMIT_MAX_DELAYS: Required<CommitMaxDelays> = { vital: 500, status: 500, waveform: 1000 };

/** Longer delays, fewer bytes still (README, performance): vital and status 1 s, waveform 2 s. */
export const SD_CARD_COMMIT_MAX_DELAYS: Required<CommitMaxDelays> = { vital: 1000, status: 1000, waveform: 2000 };

/** A device that appends again within this long after its previous acknowledgement waits for each one. */
export const WAITING_TURNAROUND_MS = 50;
/** ...and its appends are committed within this long. */
export const WAITING_COMMIT_DELAY_MS = 25;
/** The kinds of device that wait for each acknowledgement before they send again. */
export const WAITING_KINDS: ReadonlySet<DeviceKind> = new Set<DeviceKind>(['mqtt']);

export interface PacingOptions {
  /** Group commit interval: when set, the delay of every class not given in commitMaxDelayMs, and a cap on the alarm's. */
  commitIntervalMs?: number | undefined;
  commitMaxDelayMs?: CommitMaxDelays | undefined;
  alarmCommitIntervalMs?: number | undefined;
  /** Commit as soon as this many readings are pending, before any delay runs out (0: never early). */
  commitFillReadings?: number | undefined;
}

/** Each class's maximum delay, by classIndex (alarm, vital, status, waveform), in ms: given per class, else commitIntervalMs, else the default. */
export function commitDelays(opts: PacingOptions): number[] {
  return PRIORITY_CLASSES.map((p) => {
    const delay =
      p === 'alarm'
        ? Math.min(opts.alarmCommitIntervalMs ?? 0, opts.commitIntervalMs ?? Infinity)
        : (opts.commitMaxDelayMs?.[p] ?? opts.commitIntervalMs ?? DEFAULT_COMMIT_MAX_DELAYS[p]);
    return Math.max(0, delay);
  });
}

/** The pending readings that trigger a commit before any delay runs out (Infinity: none). */
export function commitFillReadings(opts: PacingOptions): number {
  const n = opts.commitFillReadings ?? 0;
  return n > 0 ? n : Infinity;
}
