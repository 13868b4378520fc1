/** Where the consumer writes: readings already deduplicated by the tracker, and gap views. */
import type { ReadingV1 } from '../message.js';
import type { GatewayGaps } from '../tracker.js';
import type { WaveformSample } from '../waveform.js';

export interface SinkRow {
  topic: string;
  partition: number;
  offset: string;
  reading: ReadingV1;
}

export interface SampleRow {
  topic: string;
  partition: number;
  offset: string;
  sample: WaveformSample;
}

export interface Sink {
  readonly name: string;
  /**
   * Stores new readings; resolves once they are stored (the consumer commits Kafka offsets only
   * after every sink resolved). A sink that keeps state across consumer restarts also drops
   * duplicates itself (the tracker's memory starts empty on every start).
   */
  write(rows: readonly SinkRow[]): Promise<void>;
  /** Stores new waveform samples (from waveform batches), like write(). */
  writeSamples(rows: readonly SampleRow[]): Promise<void>;
  /** The current gap view of one gateway (`final`: the input ended, holes inside the window included). */
  gaps(view: GatewayGaps, final: boolean): Promise<void>;
  close(): Promise<void>;
}
