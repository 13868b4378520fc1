/**
 * The Kafka side (kafkajs): a consumer group on the ward topics, batch by batch. Offsets are
 * committed only after the handler (tracker + sinks) resolved for the batch, so a crash
 * re-delivers at most the batches in flight (at-least-once; the sinks drop those again).
 *
 * `untilEnd`: stop once every partition reached the end offset it had at start (for batch
 * jobs and tests); otherwise run until stop().
 */
import { type Consumer, Kafka, type LogEntry, logLevel } from 'kafkajs';
import type { RawMessage } from './message.js';

export interface SourceOptions {
  brokers: string[];
  topics: string[];
  groupId: string;
  /** Start at the beginning of a topic when the group has no committed offset (default true). */
  fromBeginning?: boolean;
  untilEnd?: boolean;
  /** Log line (stderr): never message contents. */
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export type BatchHandler = (messages: RawMessage[]) => Promise<void>;

export interface Source {
  /** Resolves when untilEnd is reached or after stop(); rejects when the consumer crashed for good. */
  done: Promise<void>;
  stop(): Promise<void>;
}

function logCreator(log: SourceOptions['log']) {
  return () =>
    ({ level, log: entry }: LogEntry) => {
      // kafkajs log entries carry broker, topic and error details, not message contents.
      const { message, error } = entry as { message?: string; error?: string };
      log(level === logLevel.ERROR ? 'error' : level === logLevel.WARN ? 'warn' : 'info', `kafkajs: ${message ?? ''}`, error ? { error } : undefined);
    };
}

/** Retries what Kafka calls retriable (e.g. a fresh cluster's group coordinator still loading), up to `attempts`. */
async function retrying<T>(what: () => Promise<T>, attempts = 40): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (i >= attempts || !(err as { retriable?: boolean }).retriable) throw err;
      await new Promise((r) => setTimeout(r, Math.min(250 * i, 2000)));
    }
  }
}

/** Per partition, the end offset to reach ("topic:partition" -> next offset), or none when already there. */
async function endTargets(kafka: Kafka, topics: string[], groupId: string): Promise<Map<string, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const targets = new Map<string, bigint>();
    const committed = await retrying(() => admin.fetchOffsets({ groupId, topics }));
    for (const topic of topics) {
      const mine = committed.find((c) => c.topic === topic);
      for (const p of await retrying(() => admin.fetchTopicOffsets(topic))) {
        const high = BigInt(p.high);
        const low = BigInt(p.low);
        const at = BigInt(mine?.partitions.find((x) => x.partition === p.partition)?.offset ?? '-1');
        const start = at >= 0n ? at : low;
        if (high > start) targets.set(`${topic}:${p.partition}`, high);
      }
    }
    return targets;
  } finally {
    await admin.disconnect();
  }
}

export async function startKafkaSource(opts: SourceOptions, handle: BatchHandler): Promise<Source> {
  const kafka = new Kafka({ clientId: 'wardgate-reference-consumer', brokers: opts.brokers, logLevel: logLevel.WARN, logCreator: logCreator(opts.log) });
  const targets = opts.untilEnd ? await endTargets(kafka, opts.topics, opts.groupId) : undefined;
  const consumer: Consumer = kafka.consumer({ groupId: opts.groupId });

  let finish!: () => void;
  let fail!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    finish = res;
    fail = rej;
  });
  const checkEnd = () => {
    if (targets && targets.size === 0) finish();
  };

  consumer.on(consumer.events.CRASH, (e) => {
    const { error, restart } = e.payload as { error: Error; restart: boolean };
    opts.log('error', 'consumer crashed', { error: error.message, restart });
    if (!restart) fail(error);
  });

  let failed = false;
  await consumer.connect();
  await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
  await consumer.run({
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, heartbeat, isRunning, isStale }) => {
      if (failed || !isRunning() || isStale() || batch.messages.length === 0) return;
      try {
        await handle(
          batch.messages.map((m) => ({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            headers: m.headers as RawMessage['headers'],
            value: m.value,
          })),
        );
      } catch (err) {
        // Nothing of this batch is resolved or committed; the source stops (see WardConsumer.handle).
        failed = true;
        fail(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary();
      await heartbeat();
      if (targets) {
        const key = `${batch.topic}:${batch.partition}`;
        const target = targets.get(key);
        if (target !== undefined && BigInt(batch.lastOffset()) + 1n >= target) targets.delete(key);
        checkEnd();
      }
    },
  });
  checkEnd();

  let stopped = false;
  return {
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      await consumer.disconnect();
      finish();
    },
  };
}
