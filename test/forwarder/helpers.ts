/** Test doubles for forwarder unit tests: a scripted KafkaClient and a real encrypted buffer in a temp folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBuffer, type SqliteBuffer } from '../../src/buffer/index.js';
import type { MetricId } from '../../src/catalogue.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import {
  type ClientErrorKind,
  type KafkaClient,
  KafkaClientError,
  type KafkaClientHealth,
  type OutMessage,
  type TopicBatch,
} from '../../src/forwarder/client.js';
import { Forwarder, type ForwarderOptions } from '../../src/forwarder/forwarder.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading, PriorityClass } from '../../src/reading.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export interface SendCall {
  batches: TopicBatch[];
  at: number;
  settled: boolean;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * A KafkaClient whose sends are settled by a policy: 'ack' (at once), 'hold' (the test settles
 * them), or a function. Acknowledged messages are appended to `log` per topic, like a partition.
 */
export class FakeClient implements KafkaClient {
  readonly calls: SendCall[] = [];
  readonly log = new Map<string, OutMessage[]>();
  connects = 0;
  ensures = 0;
  closed = false;
  policy: 'ack' | 'hold' | ((call: SendCall, index: number) => void) = 'ack';
  connectError: KafkaClientError | null = null;
  ensureError: KafkaClientError | null = null;

  constructor(readonly name = 'fake') {}

  async connect(): Promise<void> {
    this.connects++;
    if (this.connectError) throw this.connectError;
  }

  async ensureTopics(): Promise<void> {
    this.ensures++;
    if (this.ensureError) throw this.ensureError;
  }

  /** Writes a call's messages to the log (as Kafka would on success, or on a lost acknowledgement). */
  land(call: SendCall): void {
    for (const b of call.batches) {
      const landed = this.log.get(b.topic);
      if (landed) landed.push(...b.messages);
      else this.log.set(b.topic, [...b.messages]);
    }
  }

  send(batches: TopicBatch[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const call: SendCall = {
        batches,
        at: Date.now(),
        settled: false,
        resolve: () => {
          if (call.settled) return;
          call.settled = true;
          this.land(call);
          resolve();
        },
        reject: (e: Error) => {
          if (call.settled) return;
          call.settled = true;
          reject(e);
        },
      };
      this.calls.push(call);
      const p = this.policy;
      if (p === 'ack') call.resolve();
      else if (typeof p === 'function') p(call, this.calls.length - 1);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  health(): KafkaClientHealth {
    return { connected: true };
  }

  pending(): SendCall[] {
    return this.calls.filter((c) => !c.settled);
  }

  messages(topic: string): OutMessage[] {
    return this.log.get(topic) ?? [];
  }
}

export const err = (kind: ClientErrorKind, msg = `${kind} failure`) => new KafkaClientError(kind, msg);

export const TOPICS = { alarm: 't.alarm', vital: 't.vital', status: 't.status', waveform: 't.waveform' };

const METRICS: MetricId[] = ['heart_rate', 'spo2', 'resp_rate'];
const UNITS = ['/min', '%', '/min'];

/** Reading i of device (i % devices), with the given class. */
export function reading(i: number, priority: PriorityClass = 'vital', devices = 5): PendingReading {
  const d = i % devices;
  return {
    deviceId: `dev-${d}`,
    deviceKind: 'simulator',
    bed: `bed-${d}`,
    metric: METRICS[i % 3]!,
    value: 70 + (i % 20),
    unit: UNITS[i % 3]!,
    deviceTime: Date.now() - 5,
    gatewayTime: Date.now(),
    priorityClass: priority,
    quality: ['simulated'],
  };
}

export function readings(n: number, priority: PriorityClass = 'vital', start = 0, devices = 5): PendingReading[] {
  return Array.from({ length: n }, (_, k) => reading(start + k, priority, devices));
}

/** The rig's forwarder options (TOPICS by device, batches of 60, short timeouts and retries), with `over` on top. */
export function rigOptions(over: Partial<ForwarderOptions> = {}): ForwarderOptions {
  return {
    routing: { topics: TOPICS, key: 'device' },
    createTopics: true,
    batchMaxReadings: 60,
    batchMaxBytes: 1 << 30,
    sendTimeoutMs: 1000,
    connectTimeoutMs: 500,
    retryInitialMs: 20,
    retryMaxMs: 200,
    ...over,
  };
}

export interface Rig {
  buffer: SqliteBuffer;
  events: Events;
  client: FakeClient;
  alarmClient: FakeClient;
  forwarder: Forwarder;
  cleanup(): Promise<void>;
}

export async function rig(over: Partial<ForwarderOptions> = {}, opts: { sharedClient?: boolean; start?: boolean } = {}): Promise<Rig> {
  const root = mkdtempSync(join(tmpdir(), 'wg-fwd-'));
  const keyFile = join(root, 'wardgate.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const events = new Events(log);
  const buffer = await openBuffer({
    dir: join(root, 'data'),
    keyFile,
    gatewayId: 'gw-unit',
    events,
    log,
    commitIntervalMs: 2,
    ballastBytes: 0,
    unitMaxReadings: 25,
  });
  const client = new FakeClient('bulk');
  const alarmClient = opts.sharedClient ? client : new FakeClient('alarm');
  const forwarder = new Forwarder(buffer, client, rigOptions({ ...(opts.sharedClient ? {} : { alarmClient }), ...over }), events, log);
  if (opts.start !== false) forwarder.start();
  return {
    buffer,
    events,
    client,
    alarmClient,
    forwarder,
    cleanup: async () => {
      // Settle what a test left held, so stop() does not wait for the send timeout.
      for (const c of [client, alarmClient]) {
        c.policy = (call) => call.reject(err('transient', 'test over'));
        for (const call of c.pending()) call.reject(err('transient', 'test over'));
      }
      await forwarder.stop();
      await buffer.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const seqOf = (m: OutMessage): number => Number(m.headers['wardgate-seq']);
export const deviceOf = (m: OutMessage): string => String(m.key);
