/**
 * wardgate reference consumer: ward topics -> dedupe by (gatewayId, seq) -> gap detection ->
 * stdout JSON lines and, optionally, PostgreSQL. See README.md beside this file.
 *
 *   node --import tsx examples/consumer/main.ts --brokers 127.0.0.1:9092 \
 *     --topics ward.alarms,ward.vitals,ward.status,ward.waveforms [--postgres postgres://...] \
 *     [--group wardgate-reference-consumer] [--window 100000] [--until-end] [--no-readings]
 *
 * stdout carries the data (readings and gap views); stderr the log, as JSON lines with counts
 * and errors only, never a reading. SIGINT/SIGTERM: stop, write the final gap views, exit 0.
 */
import { parseArgs } from 'node:util';
import { WardConsumer } from './consumer.js';
import { startKafkaSource } from './kafka-source.js';
import { PostgresSink } from './sinks/postgres.js';
import type { Sink } from './sinks/sink.js';
import { JsonLinesSink } from './sinks/stdout.js';
import { GapTracker } from './tracker.js';

const USAGE = `usage: main.ts --brokers H:P[,H:P] --topics T[,T] [--postgres URL] [--group ID] [--window N] [--until-end] [--no-readings]`;

function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields })}\n`);
}

/** A URL for the log without its password. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      brokers: { type: 'string' },
      topics: { type: 'string' },
      postgres: { type: 'string' },
      group: { type: 'string', default: 'wardgate-reference-consumer' },
      window: { type: 'string', default: '100000' },
      'until-end': { type: 'boolean', default: false },
      'no-readings': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const list = (s: string | undefined) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const brokers = list(values.brokers);
  const topics = list(values.topics);
  const window = Number(values.window);
  if (brokers.length === 0 || topics.length === 0 || !Number.isSafeInteger(window) || window < 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }

  const sinks: Sink[] = [new JsonLinesSink(process.stdout, { readings: !values['no-readings'] })];
  let pgSink: PostgresSink | undefined;
  if (values.postgres) {
    pgSink = await PostgresSink.open(values.postgres);
    sinks.push(pgSink);
    log('info', 'postgres sink ready', { url: redact(values.postgres) });
  }
  const tracker = new GapTracker({ window });
  if (pgSink) {
    // Restarted over a database: start from what it holds, not from nothing.
    const stored = await pgSink.storedState();
    for (const g of stored) tracker.seed(g.gatewayId, g.seen, g.announcements);
    log('info', 'tracker seeded from postgres', { gateways: stored.length });
  }
  const consumer = new WardConsumer(tracker, sinks);
  const source = await startKafkaSource({ brokers, topics, groupId: values.group, untilEnd: values['until-end'], log }, (batch) => consumer.handle(batch));
  log('info', 'consuming', { topics, group: values.group, untilEnd: values['until-end'] });

  const onSignal = (sig: string) => {
    log('info', 'stopping', { signal: sig });
    void source.stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let code = 0;
  try {
    await source.done;
  } catch (err) {
    log('error', 'consumer failed', { error: err instanceof Error ? err.message : String(err) });
    code = 1;
  }
  await source.stop();
  if (code === 0) {
    try {
      await consumer.finish();
    } catch (err) {
      log('error', 'final gap report failed', { error: err instanceof Error ? err.message : String(err) });
      code = 1;
    }
  }
  for (const s of sinks) await s.close();
  log('info', 'done', { counts: consumer.counts, ...(pgSink ? { postgresConflicts: pgSink.conflicts } : {}) });
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    log('error', 'consumer failed', { error: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  },
);
