/**
 * The small interface every device family implements. An adapter turns what its
 * devices say into ReadingInputs and hands them to `sink`; the pipeline does the rest.
 */
import type { ReadingInput } from '../reading.js';
import type { Logger } from '../logger.js';
import type { Events } from '../metrics/events.js';

export interface ReadingSink {
  /**
   * Normalises, validates and buffers the readings. Resolves after they are durably
   * committed (acknowledge the device only then); rejects if the buffer refused them.
   * Readings that fail validation are counted and dropped; they do not reject the promise.
   */
  submit(inputs: readonly ReadingInput[]): Promise<void>;
}

export interface AdapterContext {
  sink: ReadingSink;
  log: Logger;
  events: Events;
}

export interface AdapterStatus {
  state: 'starting' | 'running' | 'degraded' | 'stopped';
  devices: number;
  detail?: string;
}

export interface DeviceAdapter {
  readonly family: string;
  start(ctx: AdapterContext): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
}

/** A device family: turns its slice of the configuration into adapters. */
export interface DeviceFamily<C = unknown> {
  readonly name: string;
  create(config: C): DeviceAdapter[];
}
