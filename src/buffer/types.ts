/**
 * The buffer's whole surface: append a batch, lease the next batch to send, ack or
 * release it, and read statistics. SQLite, sealing and eviction stay behind it.
 */
import type { PendingReading, PriorityClass, Reading } from '../reading.js';
import type { UnitColumns } from './codec.js';

export interface LeaseLimits {
  /** At most this many readings (a lease may hold fewer). */
  maxReadings: number;
  /** At most about this many encoded bytes. At least one unit is always leased if any is available. */
  maxBytes: number;
  /** Only from these classes (default: all); the highest non-empty of them first. */
  classes?: readonly PriorityClass[];
}

export interface Lease {
  readonly id: number;
  /** All readings of one lease belong to one priority class. */
  readonly priorityClass: PriorityClass;
  /**
   * Readings in sequence order (oldest first); per-device order is preserved. A lease from the
   * buffer makes these objects on first use only: a writer that can work from `units` never does.
   */
  readonly readings: readonly Reading[];
  /** The same readings as decoded units (readings [from, to) of each), when the lease came from the buffer. */
  readonly units?: readonly UnitSlice[];
  /** Encoded size of the leased units on disk. */
  readonly bytes: number;
  /**
   * The lease stopped inside a unit (the unit alone held more than maxReadings): the rest of it
   * becomes leasable only once this lease is acked, so a lease of the same class taken before
   * that would overtake the rest.
   */
  readonly partial: boolean;
}

/** Readings [from, to) of one decoded unit. */
export interface UnitSlice {
  readonly columns: UnitColumns;
  readonly from: number;
  readonly to: number;
}

export interface ClassStats {
  readings: number;
  units: number;
  bytes: number;
  /** Gateway time of the oldest buffered reading of this class, ms since the epoch. */
  oldestGatewayTime: number | null;
}

export interface BufferStats {
  perClass: Record<PriorityClass, ClassStats>;
  totalReadings: number;
  /** Database + WAL size on disk. */
  diskBytes: number;
  /** Readings leased and not yet acked or released. */
  inFlight: number;
  /** The same, per class. */
  inFlightPerClass: Record<PriorityClass, number>;
  /** Highest sequence number committed so far (0 when none). */
  lastSeq: number;
  quarantined: number;
}

export class BufferRefused extends Error {
  constructor(
    readonly reason: 'closed' | 'disk_full' | 'shedding' | 'io_error',
    message: string,
  ) {
    super(message);
    this.name = 'BufferRefused';
  }
}

export interface ReadingBuffer {
  readonly gatewayId: string;
  /**
   * Queues readings for the next group commit. The promise resolves after the
   * transaction holding them is durably committed (only then may a device be
   * acknowledged) and rejects with BufferRefused if they were not stored.
   */
  append(readings: readonly PendingReading[]): Promise<void>;
  /** Forces the pending group commit now; resolves when it is on disk. */
  flush(): Promise<void>;
  /** Leases the oldest units of the highest non-empty priority class, or null when nothing is leasable. */
  lease(limits: LeaseLimits): Lease | null;
  /** Kafka acknowledged the lease: its units leave the buffer. */
  ack(leaseId: number): void;
  /** The lease was not delivered: its units become leasable again, ahead of newer ones. */
  release(leaseId: number): void;
  stats(): BufferStats;
  /** Subscribe to commits (the forwarder wakes up on new data). Returns an unsubscribe function. */
  onCommit(listener: () => void): () => void;
  close(): Promise<void>;
}
