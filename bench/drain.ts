/**
 * Drain against its ceilings (issue 16 goals 2 and 5), in one run against one local broker:
 *   `node --import tsx bench/drain.ts [--readings 200000] [--batch 2000] [--rounds 3] [--compression none]
 *     [--formats json-v1,avro-v1] [--java-records 1000000] [--node-options "<V8 flags>" | none] [--tsx-children]`
 *
 * Starts its own broker (scripts/kafka-local.sh in a temporary KAFKA_DIR) and stops it at the end.
 * A backlog of --readings synthetic readings (36 devices, 1 in 997 an alarm, 1 in 50 a status
 * reading) is appended once to an encrypted buffer; every drain works on a copy of it. Per round,
 * in alternating order, each in a child process with the V8 flags of the installed `wardgate`
 * (bin/wardgate.js's first line) and the default Kafka client (@platformatic/kafka):
 *  (a) drain: the real gateway (startGateway: buffer, forwarder, client wrapper, alarm lane) on
 *      the copy, no ingest, until every reading is acknowledged, once per --formats entry;
 *  (b) bare producer: @platformatic/kafka's Producer with the options the wrapper gives it
 *      (idempotent, acks=-1, compatibilityPartitioner, the same serializers and compression), no
 *      buffer, no wrapper: the backlog's own first 10 leases, routed exactly as the forwarder
 *      routes them (json-v1) to topics of the same classes, flattened before the clock starts,
 *      sent one batch at a time and over again until --readings went out.
 * Both are timed from the first acknowledgement to the last (connecting, topic checks and the
 * first batch are left out on both sides), readings/s and CPU of the whole process per reading
 * over the same window. The ratio (a)/(b) for json-v1 is taken per round (the bare run next to
 * each drain) and its median is set against the goal >= 0.9.
 *  (d) Kafka's own org.apache.kafka.tools.ProducerPerformance (the same jars as the broker, full
 *      JIT), before the first round and after the last: --java-records records of the mean
 *      json-v1 record size (key + value + header bytes), acks=all, enable.idempotence=true, the
 *      same compression, batch.size = the bytes the forwarder's batch puts on one partition
 *      (batch x record size / partitions), linger.ms=5: the machine's ceiling.
 * Every topic's end offsets are checked with GetOffsetShell (at least what was acknowledged).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBuffer } from '../src/buffer/index.js';
import { validateConfig } from '../src/config/load.js';
import type { TopicBatch } from '../src/forwarder/client.js';
import { routeLease } from '../src/forwarder/routing.js';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import type { PriorityClass } from '../src/reading.js';
import { createTopics, kafkaTool, stopBroker } from '../test/helpers/kafka.js';
import { arg, buildBacklog, childEntryFor, childNodeOptions, exitWhen, median, REPO, runChild, startOwnBroker } from './lib/child.js';

const N = Number(arg('readings', '200000'));
const BATCH = Number(arg('batch', '2000'));
const ROUNDS = Number(arg('rounds', '3'));
const COMPRESSION = arg('compression', 'none');
const FORMATS = arg('formats', 'json-v1,avro-v1').split(',') as ('json-v1' | 'avro-v1')[];
const JAVA_RECORDS = Number(arg('java-records', '1000000'));
const PARTITIONS = 3;
const SYNTH = { devices: 36, alarmEvery: 997, statusEvery: 50 };
// Read by the parent only (a compiled child lives in a temporary folder without bin/).
const NODE_OPTS = childNodeOptions();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const classTopics = (prefix: string): Record<PriorityClass, string> => ({
  alarm: `${prefix}.alarms`,
  vital: `${prefix}.vitals`,
  status: `${prefix}.status`,
  waveform: `${prefix}.waveforms`,
});

interface Measured {
  /** Readings acknowledged between the first acknowledgement and the last (the first batch excluded). */
  n: number;
  ms: number;
  cpuMs: number;
  /** Message bytes (key + value + header names and values) per reading. */
  recordBytes: number;
  total: number;
}

/** Times acknowledgements: from the first to the last, with the CPU of the process over the same window. */
class AckWindow {
  private first = 0;
  private firstCount = 0;
  private cpu0: NodeJS.CpuUsage | null = null;
  private last = 0;
  private lastCount = 0;
  private cpu1: NodeJS.CpuUsage | null = null;

  acked(total: number): void {
    const now = performance.now();
    if (this.cpu0 === null) {
      this.cpu0 = process.cpuUsage();
      this.first = now;
      this.firstCount = total;
      return;
    }
    this.last = now;
    this.lastCount = total;
    this.cpu1 = process.cpuUsage(this.cpu0);
  }

  result(recordBytes: number, total: number): Measured {
    if (!this.cpu1) throw new Error('fewer than two acknowledgements');
    return {
      n: this.lastCount - this.firstCount,
      ms: this.last - this.first,
      cpuMs: (this.cpu1.user + this.cpu1.system) / 1000,
      recordBytes,
      total,
    };
  }
}

function bytesOf(batches: readonly TopicBatch[]): { readings: number; bytes: number } {
  let readings = 0;
  let bytes = 0;
  for (const b of batches)
    for (const m of b.messages) {
      readings++;
      bytes += m.value.length + (m.key === null ? 0 : m.key.length);
      for (const k in m.headers) bytes += k.length + m.headers[k]!.length;
    }
  return { readings, bytes };
}

// ------------------------------------------------------------------ child: the gateway drains

async function childDrain(): Promise<void> {
  const brokers = arg('brokers', '');
  const dataDir = arg('data', '');
  const topics = classTopics(arg('prefix', ''));
  const format = arg('format', 'json-v1');
  const cfg = validateConfig(
    {
      gateway: { dataDir, id: 'gw-bench' },
      // --integrity-check at-open: the buffer's integrity check before the gateway starts instead of
      // on a worker thread meanwhile (the shipped background check's CPU falls in the drain's window).
      ...(arg('integrity-check', '') ? { buffer: { integrityCheck: arg('integrity-check', '') } } : {}),
      kafka: {
        brokers: [brokers],
        compression: COMPRESSION,
        topics,
        format,
        batch: { maxReadings: BATCH },
        sendTimeout: 30_000,
        connectTimeout: 10_000,
        // --client-thread: the client in a worker thread (kafka.clientThread; off by default).
        clientThread: process.argv.includes('--client-thread'),
      },
      log: { level: 'silent' },
    },
    'bench',
  );
  const window = new AckWindow();
  // Acknowledgements are seen by polling the forwarder's count every few ms: an onForwarderAck
  // hook would make the forwarder keep each lease and build its Reading objects (1-2 µs a reading).
  // With --diag the hook is set, for the batch timings it prints.
  const diag = process.argv.includes('--diag');
  /** Bulk batches: when each was handed to the client and acknowledged. */
  const sends: [number, number][] = [];
  const gw = await startGateway(cfg, {
    mode: 'run',
    log: silentLogger(),
    ...(diag ? { onForwarderAck: (a: { priorityClass: string; sentAt: number; ackedAt: number }) => void sends.push([a.sentAt, a.ackedAt]) } : {}),
  });
  const elu0 = performance.eventLoopUtilization();
  const initial = gw.buffer.stats().totalReadings;
  let bytes0 = 0;
  for (const v of (await gw.events.forwardedBytes.get()).values) bytes0 += v.value;
  let seen = 0;
  for (let t0 = Date.now(); seen < initial; ) {
    if (Date.now() - t0 > 10 * 60_000) throw new Error('drain did not finish in 10 minutes');
    await sleep(2);
    const f = gw.forwarder.status().forwarded;
    if (f !== seen) window.acked(f);
    seen = f;
  }
  let bytes = -bytes0;
  for (const v of (await gw.events.forwardedBytes.get()).values) bytes += v.value;
  const total = gw.forwarder.status().forwarded;
  const elu = performance.eventLoopUtilization(elu0);
  if (diag) {
    let inSend = 0;
    let gaps = 0;
    for (let i = 0; i < sends.length; i++) {
      inSend += sends[i]![1] - sends[i]![0];
      if (i > 0) gaps += Math.max(0, sends[i]![0] - sends[i - 1]![1]);
    }
    process.stderr.write(
      `diag: ${sends.length} batches (${(total / sends.length).toFixed(0)} readings each), send->ack ${(inSend / sends.length).toFixed(1)} ms, ` +
        `ack->next send ${(gaps / (sends.length - 1)).toFixed(1)} ms, event loop utilization ${elu.utilization.toFixed(2)}\n`,
    );
  }
  await gw.stop(0);
  console.log(JSON.stringify(window.result(bytes / total, total)));
}

// ------------------------------------------------------------------ child: the bare producer

async function childBare(): Promise<void> {
  const brokers = arg('brokers', '');
  const dataDir = arg('data', '');
  const topics = classTopics(arg('prefix', ''));
  const log = silentLogger();
  const buffer = await openBuffer({ dir: dataDir, keyFile: join(dataDir, 'wardgate.key'), gatewayId: 'gw-bench', events: new Events(log), log });
  const pool: {
    readings: number;
    bytes: number;
    messages: { topic: string; key: string | Buffer | null; value: string | Buffer; headers: Record<string, string> }[];
  }[] = [];
  const leases: number[] = [];
  // Leased as the forwarder's bulk lane leases (the other classes, highest first): the batches that
  // carry all but the 1 in 997 readings that are alarms (those go once, in one small batch, on the alarm lane).
  for (let i = 0; i < 10; i++) {
    const l = buffer.lease({ maxReadings: BATCH, maxBytes: 1 << 30, classes: ['vital', 'status', 'waveform'] });
    if (!l) break;
    leases.push(l.id);
    const batches = routeLease(l, { topics, key: 'device', format: 'json-v1' });
    const messages = batches.flatMap((b) => b.messages.map((m) => ({ topic: b.topic, key: m.key, value: m.value, headers: m.headers })));
    pool.push({ ...bytesOf(batches), messages });
  }
  for (const id of leases) buffer.release(id);
  // --bare-fresh (a diagnostic, not part of the table): each send leases, routes and flattens a batch
  // anew (then releases it) instead of sending the pool's messages again: the bare producer plus
  // the buffer's lease and the encoding, and the garbage of fresh messages.
  const fresh = process.argv.includes('--bare-fresh');
  if (!fresh) await buffer.close();
  const k = await import('@platformatic/kafka');
  const toBuffer = (v: Buffer | string | null | undefined): Buffer | undefined =>
    v === null || v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v);
  const opts = {
    clientId: 'bench-bare',
    bootstrapBrokers: [brokers],
    connectTimeout: 10_000,
    requestTimeout: 30_000,
    timeout: 30_000,
    retries: 2,
    retryDelay: 250,
  };
  const admin = new k.Admin(opts);
  await admin.createTopics({ topics: Object.values(topics), partitions: PARTITIONS, replicas: 1 });
  for (;;) {
    const md = await admin.metadata({ topics: Object.values(topics), forceUpdate: true }).catch(() => null);
    if (md && Object.values(topics).every((t) => md.topics.get(t)?.partitions.every((p) => p.leader >= 0))) break;
    await sleep(100);
  }
  await admin.close();
  const producer = new k.Producer({
    ...opts,
    serializers: { key: toBuffer, value: toBuffer, headerKey: toBuffer, headerValue: toBuffer },
    idempotent: true,
    acks: -1,
    partitioner: k.compatibilityPartitioner,
    autocreateTopics: false,
    ...(COMPRESSION !== 'none' ? { compression: COMPRESSION as 'gzip' } : {}),
  });
  await producer.initIdempotentProducer({});
  const window = new AckWindow();
  let sent = 0;
  let bytes = 0;
  for (let i = 0; sent < N; i++) {
    let b = pool[i % pool.length]!;
    if (fresh) {
      const l = buffer.lease({ maxReadings: BATCH, maxBytes: 1 << 30, classes: ['vital', 'status', 'waveform'] })!;
      const batches = routeLease(l, { topics, key: 'device', format: 'json-v1' });
      const messages = batches.flatMap((t) => t.messages.map((m) => ({ topic: t.topic, key: m.key, value: m.value, headers: m.headers })));
      buffer.release(l.id);
      b = { ...bytesOf(batches), messages };
    }
    await producer.send({ messages: b.messages });
    sent += b.readings;
    bytes += b.bytes;
    window.acked(sent);
  }
  await producer.close();
  if (fresh) await buffer.close();
  console.log(JSON.stringify(window.result(bytes / sent, sent)));
}

// ------------------------------------------------------------------ parent

let childEntry: string[] = [];

const measureChild = (mode: string, extra: string[]): Promise<Measured> => runChild<Measured>(NODE_OPTS, childEntry, mode, extra);

/** Kafka's ProducerPerformance on the broker's jars, with the JIT in full (not the tool command's quick-start flags). */
function javaPerf(brokers: string, topic: string, recordSize: number): Promise<{ rate: number; mbps: number; line: string }> {
  const version = process.env.KAFKA_VERSION ?? '4.1.1';
  const lib = process.env.KAFKA_LIB_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wardgate/kafka-lib', version);
  const batchSize = Math.ceil((BATCH * recordSize) / PARTITIONS);
  const args = [
    '-Xmx512m',
    `-Dlog4j2.configurationFile=${join(REPO, 'test/kafka/log4j2.properties')}`,
    '-cp',
    `${lib}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    String(JAVA_RECORDS),
    '--record-size',
    String(recordSize),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${brokers}`,
    'acks=all',
    'enable.idempotence=true',
    `batch.size=${batchSize}`,
    'linger.ms=5',
    `compression.type=${COMPRESSION}`,
  ];
  return new Promise((resolve, reject) => {
    const p = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      const m = /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(
        out
          .split('\n')
          .filter((l) => l.includes('records sent'))
          .pop() ?? '',
      );
      if (code !== 0 || !m) reject(new Error(`ProducerPerformance exited with ${code}: ${out.slice(-2000)}`));
      else resolve({ rate: Number(m[2]), mbps: Number(m[3]), line: `batch.size=${batchSize}` });
    });
  });
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'wg-bench-drain-'));
  const run = Date.now().toString(36);
  const { brokers, kafkaDir } = await startOwnBroker(root, () => {
    childEntry = childEntryFor(root, import.meta.url, 'bench/drain.ts');
  });
  const span = (xs: number[], d = 0) => `${median(xs).toFixed(d)}${xs.length > 1 ? ` (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})` : ''}`;
  const rate = (m: Measured) => (m.n * 1000) / m.ms;
  const cpuUs = (m: Measured) => (m.cpuMs * 1000) / m.n;
  const lines: string[] = [];
  try {
    const template = join(root, 'template');
    await buildBacklog(template, N, SYNTH);
    const landed: [string, number][] = [];
    let seq = 0;
    const copy = (): string => {
      const d = join(root, `data-${++seq}`);
      cpSync(template, d, { recursive: true, filter: (s) => !s.endsWith('buffer.lock') });
      return d;
    };
    const bare: Measured[] = [];
    const fresh: Measured[] = [];
    const drains = new Map<string, Measured[]>(FORMATS.map((f) => [f, []]));
    const ratios: number[] = [];
    const java: { rate: number; mbps: number; line: string }[] = [];
    const runJava = async (): Promise<void> => {
      const size = Math.round(bare[0]?.recordBytes ?? 0);
      if (!size || JAVA_RECORDS <= 0) return;
      const topic = `bench.drain.${run}.java-${java.length}`;
      await createTopics(brokers, [topic], PARTITIONS);
      const j = await javaPerf(brokers, topic, size);
      java.push(j);
      process.stderr.write(`java ProducerPerformance: ${j.rate.toFixed(0)} records/s (${size} B, ${j.line})\n`);
    };
    for (let r = 0; r < ROUNDS; r++) {
      const steps: (() => Promise<void>)[] = [];
      let bareRate = 0;
      const jsonDrain: number[] = [];
      steps.push(async () => {
        const prefix = `bench.drain.${run}.bare-${r}`;
        // It only leases and releases: the backlog itself is left as it was.
        const m = await measureChild('bare', ['--brokers', brokers, '--data', template, '--prefix', prefix]);
        bare.push(m);
        bareRate = rate(m);
        landed.push([prefix, m.total]);
        process.stderr.write(`bare ${r}: ${rate(m).toFixed(0)} readings/s, ${cpuUs(m).toFixed(1)} µs CPU/reading\n`);
      });
      if (process.argv.includes('--with-fresh'))
        steps.push(async () => {
          const prefix = `bench.drain.${run}.fresh-${r}`;
          const m = await measureChild('bare', ['--brokers', brokers, '--data', template, '--prefix', prefix, '--bare-fresh']);
          fresh.push(m);
          landed.push([prefix, m.total]);
          process.stderr.write(`bare, fresh batches ${r}: ${rate(m).toFixed(0)} readings/s, ${cpuUs(m).toFixed(1)} µs CPU/reading\n`);
        });
      for (const f of FORMATS) {
        steps.push(async () => {
          const prefix = `bench.drain.${run}.${f}-${r}`;
          const d = copy();
          const m = await measureChild('drain', ['--brokers', brokers, '--data', d, '--prefix', prefix, '--format', f]);
          rmSync(d, { recursive: true, force: true });
          drains.get(f)!.push(m);
          if (f === 'json-v1') jsonDrain.push(rate(m));
          landed.push([prefix, m.total]);
          process.stderr.write(
            `drain ${f} ${r}: ${rate(m).toFixed(0)} readings/s, ${cpuUs(m).toFixed(1)} µs CPU/reading, ${m.recordBytes.toFixed(0)} B/reading\n`,
          );
        });
      }
      for (const s of r % 2 === 0 ? steps : [...steps].reverse()) await s();
      if (r === 0) await runJava();
      if (jsonDrain.length) ratios.push(jsonDrain[0]! / bareRate);
    }
    await runJava();
    // Ground truth (one GetOffsetShell for every topic of this run): each run's topics hold at least what it saw acknowledged.
    const out = await kafkaTool(
      'org.apache.kafka.tools.GetOffsetShell',
      ['--bootstrap-server', brokers, '--topic', `bench\\.drain\\.${run}\\..*`, '--time', '-1'],
      180_000,
    );
    const held = new Map<string, number>();
    for (const line of out.split('\n')) {
      const m = /^(.+)\.[a-z]+:(\d+):(\d+)$/.exec(line.trim());
      if (m) held.set(m[1]!, (held.get(m[1]!) ?? 0) + Number(m[3]));
    }
    for (const [prefix, n] of landed) if ((held.get(prefix) ?? 0) < n) throw new Error(`${prefix}: topics hold ${held.get(prefix) ?? 0} < ${n} acknowledged`);
    const clientDefault = validateConfig({}, 'bench').kafka.client;
    lines.push(
      `wardgate drain benchmark: ${N} readings, batch ${BATCH}, compression ${COMPRESSION}, client ${clientDefault} (default), ${ROUNDS} rounds ` +
        `(medians, range in brackets), children ${NODE_OPTS.join(' ') || 'with V8 defaults'}; node ${process.version}`,
    );
    lines.push(
      `  (b) bare @platformatic/kafka producer, same batches (json-v1): ${span(bare.map(rate))} readings/s, ${span(bare.map(cpuUs), 1)} µs CPU/reading, ` +
        `${bare[0]?.recordBytes.toFixed(0)} B/reading`,
    );
    if (fresh.length)
      lines.push(
        `      diagnostic: the same, each batch leased, routed and flattened anew (--with-fresh): ${span(fresh.map(rate))} readings/s, ` +
          `${span(fresh.map(cpuUs), 1)} µs CPU/reading`,
      );
    for (const [f, ms] of drains) {
      if (!ms.length) continue;
      lines.push(
        `  (a) gateway drain, ${f.padEnd(7)}: ${span(ms.map(rate))} readings/s, ${span(ms.map(cpuUs), 1)} µs CPU/reading, ` +
          `${ms[0]!.recordBytes.toFixed(0)} B/reading`,
      );
    }
    if (ratios.length) lines.push(`  (c) drain json-v1 / bare producer (per round): ${span(ratios, 2)}   goal >= 0.9`);
    const jsonDrains = drains.get('json-v1') ?? [];
    if (bare.length && jsonDrains.length)
      lines.push(
        `      CPU per reading, bare / drain json-v1: ${(median(bare.map(cpuUs)) / median(jsonDrains.map(cpuUs))).toFixed(2)} ` +
          '(the ratio the drain rate tends to where the process is CPU-bound: a busy machine, a Pi)',
      );
    const av = drains.get('avro-v1');
    const js = drains.get('json-v1');
    if (av?.length && js?.length)
      lines.push(
        `      avro-v1 / json-v1 drain: ${(median(av.map(rate)) / median(js.map(rate))).toFixed(2)}x readings/s, ` +
          `${(median(av.map(cpuUs)) / median(js.map(cpuUs))).toFixed(2)}x CPU/reading`,
      );
    if (java.length) {
      const jr = java.map((j) => j.rate);
      lines.push(
        `  (d) Java ProducerPerformance (ceiling): ${span(jr)} records/s, ${median(java.map((j) => j.mbps)).toFixed(1)} MB/s, ${JAVA_RECORDS} records of ` +
          `${Math.round(bare[0]!.recordBytes)} B, acks=all, idempotent, ${java[0]!.line}, linger.ms=5`,
      );
      if (js?.length) lines.push(`      gateway drain json-v1 / Java ceiling: ${(median(js.map(rate)) / median(jr)).toFixed(2)}`);
    }
  } finally {
    await stopBroker({ dir: kafkaDir }).catch((e) => process.stderr.write(`broker stop failed: ${String(e)}\n`));
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

const child = arg('child', '');
// --child backlog --data <dir>: only the backlog (for profiling a drain or bare child by hand against a broker of your own).
const done = child === 'drain' ? childDrain() : child === 'bare' ? childBare() : child === 'backlog' ? buildBacklog(arg('data', ''), N, SYNTH) : main();
exitWhen(done);
