/**
 * Commit pacing: the longest a reading of each class waits for its group commit. A commit
 * costs the SD card whole pages (the unit's leaf, the meta page, the WAL frame headers, and
 * the same pages again at the checkpoint), whatever it holds; committing a ward's readings
 * about once a second instead of every 25 ms fills those pages and cuts the bytes written per
 * reading about tenfold (bench/buffer.ts --ward-only). The cost is latency: a vital is
 * acknowledged to its device, and visible to the forwarder, up to its delay later.
 * Alarms are committed at once (0: the next turn of the event loop). The default is a fixed 25 ms
 * for every other class; the longer delays are opt-in (a device that waits for each
 * acknowledgement sends at most one reading per delay).
 */
import { PRIORITY_CLASSES, type PriorityClass } from '../reading.js';

export type CommitMaxDelays = Partial<Record<Exclude<PriorityClass, 'alarm'>, number>>;

/** Every class but alarms waits at most this long by default. */
export const DEFAULT_COMMIT_INTERVAL_MS = 25;

/** The opt-in delays for an SD card (buffer.commitMaxDelay), as measured in the README. */
export const SD_CARD_COMMIT_MAX_DELAYS: Required<CommitMaxDelays> = { vital: 1000, status: 1000, waveform: 2000 };

export interface PacingOptions {
  /** The former fixed commit interval: when set, the delay of every class not given in commitMaxDelayMs, and a cap on the alarm's. */
  commitIntervalMs?: number | undefined;
  commitMaxDelayMs?: CommitMaxDelays | undefined;
  alarmCommitIntervalMs?: number | undefined;
}

/** Each class's maximum delay, by classIndex (alarm, vital, status, waveform), in ms: given per class, else commitIntervalMs, else 25 ms. */
export function commitDelays(opts: PacingOptions): number[] {
  return PRIORITY_CLASSES.map((p) => {
    const d =
      p === 'alarm'
        ? Math.min(opts.alarmCommitIntervalMs ?? 0, opts.commitIntervalMs ?? Infinity)
        : (opts.commitMaxDelayMs?.[p] ?? opts.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS);
    return Math.max(0, d);
  });
}
