/**
 * What a serial protocol is to the adapter: default port settings and a session, the
 * per-port state machine that turns bytes in into readings and bytes out (requests,
 * keep-alives). Sessions are synchronous and do no I/O; framing and decoding below them are
 * pure functions. Every frame or value a session cannot use is reported as a rejection
 * with a reason, which the adapter counts (frame_rejected) and never throws.
 */
import type { Extra, PriorityClass, QualityFlag } from '../../../reading.js';

export type Parity = 'none' | 'even' | 'odd';

export interface PortSettings {
  baudRate: number;
  dataBits: 5 | 6 | 7 | 8;
  parity: Parity;
  stopBits: 1 | 2;
  rtscts: boolean;
}

/** One measurement as decoded from a device; the adapter adds device id, bed and patient. */
export interface Decoded {
  metric: string;
  value: number;
  unit?: string;
  deviceTime?: number;
  priorityClass?: PriorityClass;
  quality?: QualityFlag[];
  extra?: Extra;
}

export interface SessionOutput {
  readings: Decoded[];
  /** Bytes to send to the device, in order. */
  writes: Buffer[];
  /** One reason per rejected frame or field (counted as frame_rejected{family:'serial', reason}). */
  rejects: string[];
  /** Valid frames seen (for the silence timeout). */
  frames: number;
}

export interface Session {
  /** The link (re)opened: start the protocol from its beginning. */
  open(now: number): SessionOutput;
  /** Bytes arrived. */
  data(chunk: Buffer, now: number): SessionOutput;
  /** Called every `tickMs`: periodic polls, keep-alives, retries. */
  tick(now: number): SessionOutput;
  /** Bytes to send before a clean stop (a release request), if the protocol has any. */
  close?(): Buffer[];
  /** What the session is doing, for status (e.g. 'associating', 'polling'). */
  readonly phase: string;
}

export interface SessionOptions {
  /** Poll or request interval (ms) where the protocol asks the device. */
  pollIntervalMs: number;
  /** Protocol-specific options from the port's config (the `line` protocol's format). */
  options?: Readonly<Record<string, unknown>>;
}

export interface ProtocolDef {
  readonly name: string;
  readonly settings: PortSettings;
  /** Default request interval (ms); free-running protocols ignore it. */
  readonly pollIntervalMs: number;
  /** Default silence timeout (ms): no valid frame for this long is a fault. */
  readonly silenceTimeoutMs: number;
  /** How often the adapter calls `tick` (ms). */
  readonly tickMs: number;
  createSession(opts: SessionOptions): Session;
}

export const emptyOutput = (): SessionOutput => ({ readings: [], writes: [], rejects: [], frames: 0 });
