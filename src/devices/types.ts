/**
 * The small interface every device family implements. An adapter turns what its
 * devices say into ReadingInputs and hands them to `sink`; the pipeline does the rest.
 */

import type { Logger } from '../logger.js';
import type { Events } from '../metrics/events.js';
import type { PendingReading, PriorityClass, ReadingInput } from '../reading.js';

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
  /** The gateway's data folder (small state an adapter must keep across restarts, e.g. the BLE glucose sequence numbers). */
  dataDir?: string;
}

export interface AdapterStatus {
  state: 'starting' | 'running' | 'degraded' | 'stopped';
  devices: number;
  detail?: string;
}

/**
 * A per-reading consumer besides the buffer (the local alarm echo on the embedded MQTT
 * broker is one): told of every committed reading of the classes it names. Registered at
 * start-up; must not throw and must not block (it runs on the ingest path).
 */
export interface ReadingReceiver {
  readonly name: string;
  readonly classes: readonly PriorityClass[];
  receive(r: PendingReading): void;
}

export interface DeviceAdapter {
  readonly family: string;
  start(ctx: AdapterContext): Promise<void>;
  stop(): Promise<void>;
  status(): AdapterStatus;
  /** Per-reading consumers this adapter offers (e.g. the MQTT alarm echo); asked once, before start. */
  receivers?(): readonly ReadingReceiver[];
  /**
   * SIGHUP: applies the family's new configuration while running, keeping what did not change
   * (connections, ports). Resolves false, having changed nothing, when it cannot: the gateway
   * then stops this adapter and starts a new one. Throws (changing nothing) on a bad setting.
   */
  reconfigure?(config: unknown): boolean | Promise<boolean>;
}

/** A device family: turns its slice of the configuration into adapters. */
export interface DeviceFamily<C = unknown> {
  readonly name: string;
  create(config: C): DeviceAdapter[];
}
