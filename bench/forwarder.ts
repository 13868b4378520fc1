/**
 * Forwarder benchmark: `node --import tsx bench/forwarder.ts [--readings 1000000] [--batch 2000]
 *   [--linger 0] [--compression none] [--client kafkajs] [--ingest 2000] [--latency-seconds 30]
 *   [--phases baseline,drain,latency] [--repeats 2] [--node-options "<V8 flags>" | none] [--tsx-children]
 *   [--baseline-partitioner default|remembering]`
 *   --node-options: V8 flags of the gateway and baseline children; default: those on bin/wardgate.js's first
 *   line (what the installed `wardgate` runs with); none: V8's defaults.
 *
 * Starts its own broker (scripts/kafka-local.sh in a temporary KAFKA_DIR), stops it at the end.
 *  1. Appends --readings synthetic readings straight into an encrypted buffer (a backlog).
 *  2. Baseline, before and after the drain, in a child process like the gateway: a bare kafkajs
 *     producer (idempotent, acks=-1, the same compression) sends the same messages (the buffer's
 *     own readings, leased and encoded as the forwarder does, then released) in batches of
 *     --batch, one at a time, to a fresh topic: the client's own ceiling. Encoding is done before
 *     the clock starts (a pool of 10 batches, sent over and over).
 *  3. Drain: a child process runs the real gateway (startGateway) on that buffer while it keeps
 *     ingesting --ingest readings/s; measured until the backlog is gone: readings/s and MB/s
 *     (message bytes: key + value + headers, before compression), the ingest rate achieved
 *     meanwhile, and the child's peak RSS (VmHWM).
 *  4. Latency: another child runs a gateway on an empty buffer at --ingest readings/s (1 % alarms)
 *     for --latency-seconds: p50/p99 from reading time (the gateway's receive time) to Kafka's
 *     acknowledgement, all readings and alarms.
 * Prints a table; the goals (issue 4) are in the last column.
 *
 * The gateway children run compiled JavaScript (this file compiled with tsc into the temporary
 * folder), as the installed `wardgate` does: under tsx, its loader thread alone adds ~60 MiB of
 * RSS. --tsx-children runs them under tsx instead (no compile step).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { openBuffer } from '../src/buffer/index.js';
import { validateConfig } from '../src/config/load.js';
import type { TopicBatch } from '../src/forwarder/client.js';
import type { CompressionName } from '../src/forwarder/compression.js';
import { registerKafkajsCodec } from '../src/forwarder/kafkajs-codecs.js';
import { rememberingPartitioner } from '../src/forwarder/kafkajs-partitioner.js';
import { routeLease } from '../src/forwarder/routing.js';
import { startGateway } from '../src/gateway.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import { PacedIngest } from '../test/forwarder/synthetic.js';
import { endOffsets, stopBroker } from '../test/helpers/kafka.js';
import { arg, buildBacklog, childEntryFor, childNodeOptions, exitWhen, median, runChild, startOwnBroker } from './lib/child.js';

const N = Number(arg('readings', '1000000'));
const BATCH = Number(arg('batch', '2000'));
const LINGER = Number(arg('linger', '0'));
const COMPRESSION = arg('compression', 'none') as CompressionName;
const CLIENT = arg('client', 'kafkajs');
const INGEST = Number(arg('ingest', '2000'));
const LATENCY_S = Number(arg('latency-seconds', '30'));
const PHASES = new Set(arg('phases', 'baseline,drain,latency').split(','));
/** V8 options for the gateway and baseline child processes (default: the shipped ones; "none": V8's defaults). */
const NODE_OPTS = childNodeOptions();
const REPEATS = Number(arg('repeats', '2'));
/** buffer.synchronous of the gateway children: full (default, fsync per commit) or normal. */
const SYNC = arg('sync', 'full');
/** true, false, or both (each round drains once with and once without the client thread). */
const CLIENT_THREAD_ARG = arg('client-thread', 'false');
const CLIENT_THREAD = arg('thread-variant', CLIENT_THREAD_ARG) !== 'false';
const VARIANTS = CLIENT_THREAD_ARG === 'both' ? [true, false] : [CLIENT_THREAD_ARG !== 'false'];
const SYNTH = { devices: 36, alarmEvery: 997, statusEvery: 50 };
/**
 * The bare producer's partitioner: kafkajs's default (the issue's ceiling: kafkajs as it comes),
 * or the forwarder's own (src/forwarder/kafkajs-partitioner.ts: the same partitions, each key
 * hashed once), to see how much of the ratio that accounts for.
 */
const BASE_PARTITIONER = arg('baseline-partitioner', 'default');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => b / 2 ** 20;

/** Garbage collection pauses on the main thread while it runs: total ms, minor (scavenge) and major (mark-compact) counts. */
function gcMeter(): { stop(): { ms: number; minor: number; major: number } } {
  let ms = 0;
  let minor = 0;
  let major = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      ms += e.duration;
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) major++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      obs.disconnect();
      return { ms, minor, major };
    },
  };
}

/**
 * Peak resident memory, sampled every 50 ms the same way in the drain and the baseline children
 * (process.memoryUsage.rss() only; the heap figures and the breakdown are read again only when
 * the peak has grown by 1 MiB), so both pay the same for being measured.
 */
function rssSampler(): { stop(): { peakRss: number; atPeak: NodeJS.MemoryUsage; rssParts: ReturnType<typeof rssBreakdownMiB> } } {
  let peakRss = 0;
  let detailedAt = 0;
  let atPeak = process.memoryUsage();
  let rssParts = rssBreakdownMiB();
  const sample = () => {
    const rss = process.memoryUsage.rss();
    if (rss <= peakRss) return;
    peakRss = rss;
    if (rss < detailedAt + 2 ** 20) return;
    detailedAt = rss;
    atPeak = process.memoryUsage();
    rssParts = rssBreakdownMiB();
  };
  sample();
  const timer = setInterval(sample, 50);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return { peakRss, atPeak, rssParts };
    },
  };
}

/** Resident memory by kind (anonymous: heaps and malloc; file: code and mapped files; shared memory: SQLite's WAL index). */
function rssBreakdownMiB(): { rssAnon: number; rssFile: number; rssShmem: number } {
  const st = readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
  return { rssAnon: kb('RssAnon'), rssFile: kb('RssFile'), rssShmem: kb('RssShmem') };
}

function vmHwmMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function gatewayConfig(brokers: string, dataDir: string, topics: Record<string, string>) {
  return validateConfig(
    {
      gateway: { dataDir, id: 'gw-bench' },
      buffer: { synchronous: SYNC },
      kafka: {
        brokers: [brokers],
        client: CLIENT,
        clientThread: CLIENT_THREAD,
        compression: COMPRESSION,
        topics,
        batch: { maxReadings: BATCH, linger: LINGER },
        sendTimeout: 30_000,
        connectTimeout: 10_000,
      },
      log: { level: 'silent' },
    },
    'bench',
  );
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

// ------------------------------------------------------------------ child: drain

async function childDrain(): Promise<void> {
  const brokers = arg('brokers', '');
  const dataDir = arg('data', '');
  const topics = JSON.parse(arg('topics', '{}')) as Record<string, string>;
  const gw = await startGateway(gatewayConfig(brokers, dataDir, topics), { mode: 'run', log: silentLogger() });
  const initial = gw.buffer.stats().totalReadings;
  const ingest = new PacedIngest((inputs) => gw.ingest.submit(inputs), INGEST, { ...SYNTH, devices: 30 });
  let bytes0 = 0;
  for (const v of (await gw.events.forwardedBytes.get()).values) bytes0 += v.value;
  const gc = gcMeter();
  const mem = rssSampler();
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  ingest.start();
  for (;;) {
    const s = gw.buffer.stats();
    if (s.totalReadings - s.inFlight < Math.max(BATCH, INGEST / 2) && gw.forwarder.status().forwarded >= initial) break;
    if (Date.now() - t0 > 15 * 60_000) throw new Error('drain did not finish in 15 minutes');
    await sleep(50);
  }
  const ms = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { peakRss, atPeak, rssParts } = mem.stop();
  await ingest.stop();
  let bytes = -bytes0;
  for (const v of (await gw.events.forwardedBytes.get()).values) bytes += v.value;
  const forwarded = gw.forwarder.status().forwarded;
  const ingestRate = (ingest.committed * 1000) / ms;
  await gw.stop(0);
  const cpuPerK = ((cpu.user + cpu.system) / 1000 / forwarded) * 1000;
  const g = gc.stop();
  console.log(
    JSON.stringify({
      initial,
      ms,
      cpuPerK,
      forwarded,
      gcMs: g.ms,
      scavenges: g.minor,
      markCompacts: g.major,
      bytes,
      ingestRate,
      ingestFailed: ingest.failed,
      peakRss: mib(peakRss),
      vmHwm: vmHwmMiB(),
      heapTotal: mib(atPeak.heapTotal),
      heapUsed: mib(atPeak.heapUsed),
      external: mib(atPeak.external),
      ...rssParts,
      arrayBuffers: mib(atPeak.arrayBuffers),
    }),
  );
}

// ------------------------------------------------------------------ child: latency

async function childLatency(): Promise<void> {
  const brokers = arg('brokers', '');
  const dataDir = arg('data', '');
  const topics = JSON.parse(arg('topics', '{}')) as Record<string, string>;
  const all: number[] = [];
  const alarms: number[] = [];
  const sendMs: number[] = [];
  const waitMs: number[] = [];
  let measuring = false;
  const gw = await startGateway(gatewayConfig(brokers, dataDir, topics), {
    mode: 'run',
    log: silentLogger(),
    createKeyIfMissing: true,
    onForwarderAck: (a) => {
      if (!measuring) return;
      sendMs.push(a.ackedAt - a.sentAt);
      for (const r of a.readings) waitMs.push(a.sentAt - r.gatewayTime);
      for (const r of a.readings) {
        const l = a.ackedAt - r.gatewayTime;
        all.push(l);
        if (r.priorityClass === 'alarm') alarms.push(l);
      }
    },
  });
  await sleep(1000);
  const ingest = new PacedIngest((inputs) => gw.ingest.submit(inputs), INGEST, { ...SYNTH, alarmEvery: 100 });
  ingest.start();
  await sleep(2000); // warm-up, not measured
  measuring = true;
  await sleep(LATENCY_S * 1000);
  measuring = false;
  await ingest.stop();
  await gw.stop(10_000);
  console.log(
    JSON.stringify({
      n: all.length,
      p50: quantile(all, 0.5),
      p99: quantile(all, 0.99),
      max: quantile(all, 1),
      alarms: alarms.length,
      a50: quantile(alarms, 0.5),
      a99: quantile(alarms, 0.99),
      amax: quantile(alarms, 1),
      rss: vmHwmMiB(),
      send50: quantile(sendMs, 0.5),
      send99: quantile(sendMs, 0.99),
      wait50: quantile(waitMs, 0.5),
      wait99: quantile(waitMs, 0.99),
      sends: sendMs.length,
    }),
  );
}

let childEntry: string[] = [];

const measureChild = (mode: string, extra: string[]): Promise<Record<string, number>> => runChild<Record<string, number>>(NODE_OPTS, childEntry, mode, extra);

// ------------------------------------------------------------------ child: baseline

/**
 * The bare producer: the buffer's own first readings (leased, routed as the forwarder routes
 * them, then released: the buffer is left as it was), encoded before the clock starts, a pool
 * of 10 batches sent over and over until N readings went out, one batch at a time.
 */
async function childBaseline(): Promise<void> {
  const brokers = arg('brokers', '');
  const dataDir = arg('data', '');
  const topic = arg('topic', '');
  const log = silentLogger();
  const buffer = await openBuffer({ dir: dataDir, keyFile: join(dataDir, 'wardgate.key'), gatewayId: 'gw-bench', events: new Events(log), log });
  const pool: TopicBatch[][] = [];
  const leases: number[] = [];
  for (let i = 0; i < 10; i++) {
    const l = buffer.lease({ maxReadings: BATCH, maxBytes: 1 << 30 });
    if (!l) break;
    leases.push(l.id);
    pool.push(routeLease(l, { topics: { alarm: topic, vital: topic, status: topic, waveform: topic }, key: 'device' }));
  }
  for (const id of leases) buffer.release(id);
  await buffer.close();
  await registerKafkajsCodec(COMPRESSION);
  const kafka = new Kafka({ clientId: 'bench-baseline', brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 3, replicationFactor: 1 },
      { topic: `${topic}.warm`, numPartitions: 3, replicationFactor: 1 },
    ],
  });
  await admin.disconnect();
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    ...(BASE_PARTITIONER === 'remembering' ? { createPartitioner: rememberingPartitioner } : {}),
  });
  await producer.connect();
  const compression = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }[COMPRESSION];
  for (const b of pool.slice(0, 5))
    await producer.sendBatch({ topicMessages: b.map((t) => ({ topic: `${topic}.warm`, messages: t.messages })), acks: -1, compression });
  let sent = 0;
  let bytes = 0;
  const gc = gcMeter();
  const mem = rssSampler();
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; sent < N; i++) {
    const b = pool[i % pool.length]!;
    await producer.sendBatch({ topicMessages: b.map((t) => ({ topic, messages: t.messages })), acks: -1, compression });
    for (const t of b) {
      sent += t.messages.length;
      for (const m of t.messages) {
        bytes += m.value.length + (m.key?.length ?? 0);
        for (const k in m.headers) bytes += k.length + m.headers[k]!.length;
      }
    }
  }
  const ms = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const { peakRss } = mem.stop();
  const g = gc.stop();
  await producer.disconnect();
  const cpuPerK = ((cpu.user + cpu.system) / 1000 / sent) * 1000;
  console.log(JSON.stringify({ rate: (sent * 1000) / ms, mbps: mib(bytes) / (ms / 1000), n: sent, ms, cpuPerK, gcMs: g.ms, peakRss: mib(peakRss) }));
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'wg-bench-fwd-'));
  const run = Date.now().toString(36);
  const rows: [string, string, string][] = [];
  const t0 = Date.now();
  // Interrupted: no broker and no temporary folder left behind.
  const { brokers, kafkaDir } = await startOwnBroker(root, () => {
    childEntry = childEntryFor(root, import.meta.url, 'bench/forwarder.ts');
  });
  process.stderr.write(`broker ${brokers} up in ${Date.now() - t0} ms\n`);
  const range = (xs: number[], d = 0): string => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)})` : '');
  try {
    const base: Record<string, number>[] = [];
    let buildMs = 0;
    // The baseline's messages come from a buffer of its own holding the backlog's first readings
    // (it leases and releases, so it can be used again and again).
    const baseDir = join(root, 'baseline-data');
    await buildBacklog(baseDir, Math.min(N, 100_000), SYNTH);
    const baseline = async (tag: string): Promise<Record<string, number>> => {
      const topic = `bench.fwd.${run}.baseline-${tag}`;
      const b = await measureChild('baseline', ['--brokers', brokers, '--data', baseDir, '--topic', topic]);
      if ((await endOffsets(brokers, topic)) !== b.n) throw new Error('baseline topic does not hold what was sent');
      base.push(b);
      process.stderr.write(`baseline ${tag}: ${b.rate!.toFixed(0)} readings/s, ${b.cpuPerK!.toFixed(0)} ms CPU per 1000\n`);
      return b;
    };
    // Alternate baseline and drain (the machine is shared and noisy): B D B D B ..., each drain
    // compared with the mean of the baselines just before and after it.
    let prev: Record<string, number> | null = null;
    const byVariant = new Map<boolean, { drains: Record<string, number>[]; ratios: number[] }>(VARIANTS.map((v) => [v, { drains: [], ratios: [] }]));
    for (let r = 0; r < (PHASES.has('drain') ? REPEATS : 0) || (r === 0 && PHASES.has('baseline')); r++) {
      for (const thread of VARIANTS) {
        const tag = `${r}${thread ? 't' : 'm'}`;
        const dataDir = join(root, `data-${tag}`);
        const t = await buildBacklog(dataDir, N, SYNTH);
        buildMs = Math.max(buildMs, t);
        if (PHASES.has('baseline') && !prev) prev = await baseline(`${tag}a`);
        if (!PHASES.has('drain')) break;
        const topics = {
          alarm: `bench.fwd.${run}.${tag}.alarms`,
          vital: `bench.fwd.${run}.${tag}.vitals`,
          status: `bench.fwd.${run}.${tag}.status`,
          waveform: `bench.fwd.${run}.${tag}.waveforms`,
        };
        const d = await measureChild('drain', [
          '--brokers',
          brokers,
          '--data',
          dataDir,
          '--topics',
          JSON.stringify(topics),
          '--thread-variant',
          String(thread),
        ]);
        rmSync(dataDir, { recursive: true, force: true });
        d.rate = (d.forwarded! * 1000) / d.ms!;
        d.mbps = mib(d.bytes!) / (d.ms! / 1000);
        let landed = 0;
        for (const tp of Object.values(topics)) landed += await endOffsets(brokers, tp).catch(() => 0);
        if (landed < d.forwarded!) throw new Error(`forwarder topics hold ${landed} < ${d.forwarded} forwarded`);
        const v = byVariant.get(thread)!;
        v.drains.push(d);
        process.stderr.write(
          `drain ${tag}: ${d.rate.toFixed(0)} readings/s, ${d.cpuPerK!.toFixed(0)} ms CPU per 1000, peak RSS ${d.peakRss!.toFixed(0)} MiB\n`,
        );
        if (PHASES.has('baseline')) {
          const next = await baseline(`${tag}b`);
          const ratio = d.rate / ((prev!.rate! + next.rate!) / 2);
          v.ratios.push(ratio);
          prev = next;
        }
      }
    }
    if (buildMs > 0) rows.push([`backlog: ${N} readings appended to the buffer`, `${buildMs} ms (${((N * 1000) / buildMs).toFixed(0)}/s)`, '']);
    if (base.length) {
      const rates = base.map((b) => b.rate!);
      rows.push([
        `bare kafkajs producer, batch ${BATCH}, ${COMPRESSION} (median of ${base.length})`,
        `${median(rates).toFixed(0)} readings/s${range(rates)}, ${median(base.map((b) => b.mbps!)).toFixed(1)} MB/s`,
        `${median(base.map((b) => b.cpuPerK!)).toFixed(0)} ms CPU / 1000 readings; peak RSS ${Math.max(...base.map((b) => b.peakRss!)).toFixed(0)} MiB`,
      ]);
    }
    for (const [thread, v] of byVariant) {
      if (!v.drains.length) continue;
      const ds = v.drains;
      const how = `${CLIENT}${thread ? ', client in a worker thread' : ', client on the main thread'}`;
      const rates = ds.map((d) => d.rate!);
      rows.push([
        `forwarder (${how}) drains ${N} + ingest (median of ${ds.length})`,
        `${median(rates).toFixed(0)} readings/s${range(rates)}, ${median(ds.map((d) => d.mbps!)).toFixed(1)} MB/s`,
        `${median(ds.map((d) => d.cpuPerK!)).toFixed(0)} ms CPU / 1000 readings (ingest included)`,
      ]);
      rows.push([
        '  garbage collection during the drain (median)',
        `${median(ds.map((d) => (100 * d.gcMs!) / d.ms!)).toFixed(1)} % of the time in GC pauses (bare producer: ` +
          `${median(base.map((b) => (100 * b.gcMs!) / b.ms!)).toFixed(1)} %)`,
        `${median(ds.map((d) => d.scavenges!)).toFixed(0)} scavenges, ${median(ds.map((d) => d.markCompacts!)).toFixed(0)} mark-compacts`,
      ]);
      if (v.ratios.length)
        rows.push([
          '  ratio forwarder / bare producer (each drain vs the baselines around it)',
          `${median(v.ratios).toFixed(2)}${range(v.ratios, 2)}`,
          'goal >= 0.9',
        ]);
      rows.push([
        '  ingest meanwhile',
        `${Math.min(...ds.map((d) => d.ingestRate!)).toFixed(0)} readings/s at least (${ds.reduce((a, d) => a + d.ingestFailed!, 0)} refused)`,
        `goal ${INGEST}/s`,
      ]);
      const worst = ds.reduce((a, d) => (d.peakRss! > a.peakRss! ? d : a));
      rows.push(['  peak RSS during the drain (worst run)', `${worst.peakRss!.toFixed(0)} MiB (VmHWM ${worst.vmHwm!.toFixed(0)} MiB)`, 'goal <= 150 MiB']);
      rows.push([
        '    at that peak, main thread: V8 heap total / used, external',
        `${worst.heapTotal!.toFixed(0)} / ${worst.heapUsed!.toFixed(0)} MiB, ${worst.external!.toFixed(0)} MiB`,
        '',
      ]);
      rows.push([
        '    at that peak, resident: anonymous / file / shared',
        `${worst.rssAnon!.toFixed(0)} / ${worst.rssFile!.toFixed(0)} / ${worst.rssShmem!.toFixed(0)} MiB`,
        '',
      ]);
    }
    if (PHASES.has('latency')) {
      const topics = {
        alarm: `bench.lat.${run}.alarms`,
        vital: `bench.lat.${run}.vitals`,
        status: `bench.lat.${run}.status`,
        waveform: `bench.lat.${run}.waveforms`,
      };
      const l = await measureChild('latency', ['--brokers', brokers, '--data', join(root, 'latency'), '--topics', JSON.stringify(topics)]);
      rows.push([`online latency at ${INGEST}/s, all (${l.n} readings)`, `p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms`, 'goal p99 <= 100 ms']);
      rows.push([`online latency, alarms (${l.alarms})`, `p50 ${l.a50} ms, p99 ${l.a99} ms, max ${l.amax} ms`, 'goal p99 <= 50 ms']);
      rows.push([`  of which: reading -> send starts`, `p50 ${l.wait50} ms, p99 ${l.wait99} ms`, '(commit, fsync, lease)']);
      rows.push([`  of which: send -> ack (${l.sends} sends)`, `p50 ${l.send50} ms, p99 ${l.send99} ms`, '']);
    }
  } finally {
    await stopBroker({ dir: kafkaDir }).catch((e) => process.stderr.write(`broker stop failed: ${String(e)}\n`));
    rmSync(root, { recursive: true, force: true });
  }
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  process.stdout.write(
    `\nwardgate forwarder benchmark: ${N} readings, batch ${BATCH}, linger ${LINGER} ms, compression ${COMPRESSION}, client ${CLIENT}, ingest ` +
      `${INGEST}/s, buffer synchronous=${SYNC}, bare producer's partitioner ${BASE_PARTITIONER}, ` +
      `gateway children ${childEntry.includes('tsx') ? 'under tsx' : 'compiled'}${NODE_OPTS.length ? ` with ${NODE_OPTS.join(' ')}` : ''}\n`,
  );
  for (const [a, b, c] of rows) process.stdout.write(`  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}\n`);
}

const child = arg('child', '');
const done = child === 'drain' ? childDrain() : child === 'latency' ? childLatency() : child === 'baseline' ? childBaseline() : main();
exitWhen(done);
