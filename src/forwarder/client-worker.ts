/**
 * The worker-thread side of WorkerKafkaClient (./worker-client.ts): runs one real Kafka client
 * (kafkajs or @platformatic/kafka, as configured) and answers the main thread's calls. The
 * client's CPU work (encoding record batches, CRCs, compression) happens here, on another core,
 * while the main thread leases, decrypts and encodes the next batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { createLogger } from '../logger.js';
import { type KafkaClient, KafkaClientError, type OutMessage, type TopicBatch } from './client.js';
import { createKafkaClient } from './clients.js';
import type { WorkerReply, WorkerRequest } from './worker-client.js';

const data = workerData as { kafka: Config['kafka']; logLevel: string; lane: string };
const log = createLogger({ level: data.logLevel }).child({ module: 'kafka', lane: data.lane, thread: 'worker' });
const client: KafkaClient = createKafkaClient(data.kafka, log);
const port = parentPort!;

/** Structured clone turns Buffers into plain Uint8Arrays: give the client Buffers again (no copy). */
function revive(batches: TopicBatch[]): TopicBatch[] {
  const buf = (v: unknown) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);
  for (const b of batches) {
    for (const m of b.messages as OutMessage[]) {
      m.value = buf(m.value) as OutMessage['value'];
      if (m.key !== null) m.key = buf(m.key) as OutMessage['key'];
    }
  }
  return batches;
}

port.on('message', (req: WorkerRequest) => {
  const run = async (): Promise<number[] | undefined> => {
    switch (req.op) {
      case 'connect':
        return void (await client.connect(req.timeoutMs));
      case 'send':
        return void (await client.send(revive(req.batches), req.timeoutMs));
      case 'ensureTopics':
        return void (await client.ensureTopics(req.topics, req.create, req.timeoutMs));
      case 'close':
        return void (await client.close(req.timeoutMs));
      case 'clusterBrokers':
        if (!client.clusterBrokers) throw new KafkaClientError('transient', 'not supported');
        return client.clusterBrokers(req.timeoutMs);
    }
  };
  run().then(
    (brokers) => port.postMessage({ id: req.id, ok: true, health: client.health(), ...(brokers ? { brokers } : {}) } satisfies WorkerReply),
    (e: unknown) => {
      const kind = e instanceof KafkaClientError ? e.kind : 'transient';
      const message = e instanceof Error ? e.message : String(e);
      const tooLarge = e instanceof KafkaClientError && e.tooLarge;
      const topics = e instanceof KafkaClientError ? [...e.topics] : [];
      port.postMessage({ id: req.id, ok: false, kind, message, tooLarge, topics, health: client.health() } satisfies WorkerReply);
    },
  );
});
