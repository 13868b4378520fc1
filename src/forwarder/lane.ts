/**
 * One lane of the forwarder (alarm or bulk) as a small state machine: what it holds is always
 * one of idle, prepared (a batch leased and encoded, not sent yet), sending, or sending with the
 * next batch prepared. A transition not allowed from the current state throws: the forwarder
 * never holds two prepared batches or sends two batches of one lane at once (ordering).
 */
import type { Lease } from '../buffer/types.js';
import type { KafkaClient, TopicBatch } from './client.js';

/** A lease encoded into Kafka messages. */
export interface Batch {
  /** The lease; its readings are kept only when an ack hook wants them. */
  lease: Lease;
  batches: TopicBatch[];
  readings: number;
  /** Encoded message bytes (key, value, headers), before compression. */
  bytes: number;
}

export type LaneState =
  | { readonly kind: 'idle' }
  | { readonly kind: 'prepared'; readonly next: Batch }
  | { readonly kind: 'sending'; readonly sending: Batch }
  | { readonly kind: 'sending+prepared'; readonly sending: Batch; readonly next: Batch };

export type LaneName = 'alarm' | 'bulk';

export class Lane {
  private s: LaneState = { kind: 'idle' };

  constructor(
    readonly name: LaneName,
    readonly client: KafkaClient,
  ) {}

  get state(): LaneState {
    return this.s;
  }

  get sending(): Batch | null {
    return this.s.kind === 'sending' || this.s.kind === 'sending+prepared' ? this.s.sending : null;
  }

  get next(): Batch | null {
    return this.s.kind === 'prepared' || this.s.kind === 'sending+prepared' ? this.s.next : null;
  }

  /** A batch is being sent or waits prepared. */
  get busy(): boolean {
    return this.s.kind !== 'idle';
  }

  /**
   * A batch may be prepared: none is, and the one being sent (if any) did not stop inside a
   * unit (the buffer hands out the rest of that unit only after the ack; a batch prepared
   * meanwhile would overtake it).
   */
  get mayPrepare(): boolean {
    return this.s.kind === 'idle' || (this.s.kind === 'sending' && !this.s.sending.lease.partial);
  }

  /** A prepared batch and nothing being sent: the batch may start. */
  get startable(): Batch | null {
    return this.s.kind === 'prepared' ? this.s.next : null;
  }

  prepared(b: Batch): void {
    if (this.s.kind === 'idle') this.s = { kind: 'prepared', next: b };
    else if (this.s.kind === 'sending') this.s = { kind: 'sending+prepared', sending: this.s.sending, next: b };
    else throw this.illegal('prepare');
  }

  /** prepared -> sending. */
  start(): Batch {
    if (this.s.kind !== 'prepared') throw this.illegal('start');
    const b = this.s.next;
    this.s = { kind: 'sending', sending: b };
    return b;
  }

  /** The batch being sent was acknowledged or failed: sending -> idle, sending+prepared -> prepared. */
  sent(): void {
    if (this.s.kind === 'sending') this.s = { kind: 'idle' };
    else if (this.s.kind === 'sending+prepared') this.s = { kind: 'prepared', next: this.s.next };
    else throw this.illegal('finish a send');
  }

  /** Takes the prepared batch back (to release its lease), or null when none is prepared. */
  takeNext(): Batch | null {
    if (this.s.kind === 'prepared') {
      const b = this.s.next;
      this.s = { kind: 'idle' };
      return b;
    }
    if (this.s.kind === 'sending+prepared') {
      const b = this.s.next;
      this.s = { kind: 'sending', sending: this.s.sending };
      return b;
    }
    return null;
  }

  private illegal(what: string): Error {
    return new Error(`${this.name} lane: cannot ${what} while ${this.s.kind}`);
  }
}
