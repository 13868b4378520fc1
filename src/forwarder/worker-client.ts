/**
 * A KafkaClient that runs the configured client (kafkajs or @platformatic/kafka) in a worker
 * thread (`kafka.clientThread`). The forwarder's main thread leases, decrypts and encodes
 * batches while the worker encodes record batches and talks to the brokers, so the two can use
 * two cores. Whether that pays depends on the machine: docs/forwarder.md (`clientThread`) has
 * the measurement.
 *
 * Same contract as the client it wraps: send resolves only when every message is
 * acknowledged; errors keep their kind (transient / timeout / config / fatal). The main thread
 * also guards every call with its own timeout: a worker that does not answer in time is
 * terminated (its sends count as timed out: fate unknown) and a new one starts on the next call.
 */
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { type ClientErrorKind, type KafkaClient, KafkaClientError, type KafkaClientHealth, type TopicBatch } from './client.js';

export type WorkerRequest =
  | { id: number; op: 'connect'; timeoutMs: number }
  | { id: number; op: 'send'; batches: TopicBatch[]; timeoutMs: number }
  | { id: number; op: 'ensureTopics'; topics: string[]; create: boolean; timeoutMs: number }
  | { id: number; op: 'close'; timeoutMs: number }
  | { id: number; op: 'clusterBrokers'; timeoutMs: number };

export type WorkerReply = { id: number; health: KafkaClientHealth } & (
  | { ok: true; brokers?: number[] }
  | { ok: false; kind: ClientErrorKind; message: string; tooLarge: boolean; topics: string[] }
);

type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** Time the main thread allows beyond a call's own timeout before it gives up on the worker. */
const GRACE_MS = 2000;

interface Pending {
  resolve: (brokers?: number[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class WorkerKafkaClient implements KafkaClient {
  private worker: Worker | null = null;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private last: KafkaClientHealth = { connected: false };

  constructor(
    private readonly kafka: Config['kafka'],
    private readonly opts: { logLevel: string; lane: string; log: Logger },
  ) {}

  private start(): Worker {
    if (this.worker) return this.worker;
    const ts = import.meta.url.endsWith('.ts');
    const entry = new URL(ts ? './client-worker.ts' : './client-worker.js', import.meta.url);
    const workerData = { kafka: this.kafka, logLevel: this.opts.logLevel, lane: this.opts.lane };
    // From the TypeScript sources (tests, tsx) the worker registers tsx's loader first.
    const w = ts
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData })
      : new Worker(entry, { workerData });
    w.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      this.last = r.health;
      if (!p) return;
      this.pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r.brokers);
      else p.reject(new KafkaClientError(r.kind, r.message, undefined, r.tooLarge, r.topics));
    });
    const lost = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.last = { connected: false, lastError: { kind: 'transient', message: why, at: Date.now() } };
      this.opts.log.error({ why }, 'kafka client worker thread lost; a new one starts on the next call');
      this.failAll('transient', `Kafka client worker thread lost: ${why}`);
    };
    w.on('error', (e) => lost(e.message));
    w.on('exit', (code) => lost(`exited with code ${code}`));
    w.unref();
    this.worker = w;
    return w;
  }

  private failAll(kind: ClientErrorKind, message: string): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new KafkaClientError(kind, message));
    }
  }

  private call(body: RequestBody, timeoutMs: number): Promise<number[] | undefined> {
    const w = this.start();
    const id = ++this.seq;
    return new Promise<number[] | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        // The worker did not answer even after the client's own timeout: it is stuck. Its health
        // answer never came either, so the health the forwarder reads says so here.
        const message = `${body.op} did not settle within ${timeoutMs} ms (worker thread unresponsive; restarted)`;
        this.last = { connected: false, lastError: { kind: 'timeout', message, at: Date.now() } };
        reject(new KafkaClientError('timeout', message));
        if (this.worker === w) {
          this.worker = null;
          this.failAll('timeout', 'Kafka client worker thread restarted');
          void w.terminate();
        }
      }, timeoutMs + GRACE_MS);
      this.pending.set(id, { resolve, reject, timer });
      w.postMessage({ ...body, id });
    });
  }

  async connect(timeoutMs: number): Promise<void> {
    await this.call({ op: 'connect', timeoutMs }, timeoutMs);
  }

  async send(batches: TopicBatch[], timeoutMs: number): Promise<void> {
    await this.call({ op: 'send', batches, timeoutMs }, timeoutMs);
  }

  async ensureTopics(topics: string[], create: boolean, timeoutMs: number): Promise<void> {
    await this.call({ op: 'ensureTopics', topics, create, timeoutMs }, timeoutMs);
  }

  async clusterBrokers(timeoutMs: number): Promise<number[]> {
    return (await this.call({ op: 'clusterBrokers', timeoutMs }, timeoutMs)) ?? [];
  }

  async close(timeoutMs: number): Promise<void> {
    const w = this.worker;
    if (!w) return;
    await this.call({ op: 'close', timeoutMs }, timeoutMs).catch(() => undefined);
    this.worker = null;
    this.failAll('transient', 'client closed');
    await w.terminate();
  }

  health(): KafkaClientHealth {
    return this.last;
  }
}
