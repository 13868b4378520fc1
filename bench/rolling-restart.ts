/**
 * Rolling restart at the issue's size (issue 17): `node --import tsx bench/rolling-restart.ts
 *   [--readings 1000000] [--partitions 6] [--client kafkajs|platformatic] [--rate <readings/s>]
 *   [--before 15s] [--between 10s] [--bin bin/wardgate.js]`
 *
 * test/integration/kafka-cluster-leader.test.ts rolls the cluster during a 60k-reading drain (CI
 * size); this runs the same scenario at 1M readings through the shipped command:
 *  1. a 3-node cluster (scripts/kafka-cluster.sh: RF 3, min.insync.replicas=2) and the topics;
 *  2. --readings synthetic readings appended straight into an encrypted buffer (the real append
 *     path; 36 devices, every 997th an alarm, every 50th a status reading): the backlog;
 *  3. the shipped command (`bin/wardgate.js run` with the V8 flags of its first line, the config's
 *     default client unless --client; `kafka.rateLimit.readingsPerSecond` with --rate) drains it;
 *  4. after --before, each broker in turn is stopped cleanly (`kafka-cluster.sh stop N`), started
 *     again, and the bench waits until every partition of every topic has three in-sync replicas,
 *     then --between before the next;
 *  5. when the buffer is empty the gateway is stopped (SIGTERM) and every topic is read with kcat:
 *     every seq 1..last exactly once or announced as a gap (bench/cluster-measure.ts).
 * The buffer is read once every 500 ms in this process (its meta counters, read-only): the drain
 * rate before the roll, while each broker is down, while it starts, until its replicas are back in
 * sync, between restarts and after the roll, and the longest time without progress.
 * Exits 1 when a seq is missing, the gateway failed, or the drain ended before the roll did.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { getOrCreateGatewayId, openBuffer } from '../src/buffer/index.js';
import { readBufferStats } from '../src/buffer/status.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import { readStatusFile, statusFilePath } from '../src/status-file.js';
import { syntheticPending } from '../test/forwarder/synthetic.js';
import { REPO, tempDir, uniqueTopics } from '../test/helpers/gateway.js';
import { createReplicatedTopic, startCluster, waitForLeaders } from '../test/helpers/kafka-cluster.js';
import { checkInvariant, cpuSecondsOf, machineTicks, segmentBytes, shippedNodeFlags } from './cluster-measure.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const seconds = (s: string) => Number(s.replace(/s$/, ''));
const N = Number(arg('readings', '1000000'));
const PARTITIONS = Number(arg('partitions', '6'));
const CLIENT = arg('client', '');
const RATE = Number(arg('rate', '0'));
const BEFORE_S = seconds(arg('before', '15s'));
const BETWEEN_S = seconds(arg('between', '10s'));
const BIN = resolve(arg('bin', join(REPO, 'bin/wardgate.js')));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

// On a loaded 2-core machine a broker can take more than kafka-local.sh's default 60 s to start.
process.env.KAFKA_START_TIMEOUT ??= '170';
const cluster = await startCluster();
const rows: [string, string][] = [];
let scratch: string | null = null;
let failed = true;
let gateway: { kill(signal: NodeJS.Signals): boolean } | null = null;
try {
  const topics = uniqueTopics('roll');
  for (const topic of Object.values(topics)) {
    await createReplicatedTopic(cluster, topic, PARTITIONS);
    await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader > 0 && p.isrs.length === 3);
  }
  const allInSync = async () => {
    for (const t of Object.values(topics)) await waitForLeaders(cluster.bootstrap, t, (p) => p.leader > 0 && p.isrs.length === 3, 300_000);
  };

  // The backlog, through the buffer's real append path.
  scratch = tempDir('wg-roll-bench-');
  const dir = join(scratch, 'data');
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const gatewayId = getOrCreateGatewayId(dir, 'gw-roll-bench');
  const log = silentLogger();
  const t0fill = Date.now();
  const buffer = await openBuffer({ dir, keyFile, gatewayId, events: new Events(log), log });
  const old = Date.now() - 3_600_000;
  const SYNTH = { devices: 36, alarmEvery: 997, statusEvery: 50 };
  for (let i = 0; i < N; i += 4096) {
    const m = Math.min(4096, N - i);
    await buffer.append(Array.from({ length: m }, (_, k) => syntheticPending(i + k, SYNTH, old + Math.floor((i + k) / 300))));
  }
  await buffer.close();
  const backlog = readBufferStats(dir)!;
  console.log(`backlog: ${fmt(backlog.totalReadings)} readings (last seq ${backlog.lastSeq}) in ${((Date.now() - t0fill) / 1000).toFixed(0)} s`);

  const config = join(dir, '..', 'gateway.yaml');
  writeFileSync(
    config,
    `gateway:\n  dataDir: "${dir}"\nkafka:\n  brokers: [${cluster.bootstrap
      .split(',')
      .map((b) => `"${b}"`)
      .join(', ')}]\n${CLIENT ? `  client: ${CLIENT}\n` : ''}  createTopics: false\n${
      RATE ? `  rateLimit:\n    readingsPerSecond: ${RATE}\n` : ''
    }  topics:\n${Object.entries(topics)
      .map(([k, v]) => `    ${k}: "${v}"`)
      .join('\n')}\nlog:\n  level: warn\n`,
  );
  const flags = shippedNodeFlags(BIN);
  console.log(`rolling restart: ${fmt(N)} readings, client ${CLIENT || 'default'}, rate cap ${RATE || 'none'}; node ${flags.join(' ')} ${BIN} run`);

  // The drain, sampled every 500 ms: forwarded = backlog - buffered (nothing else is ingested).
  const samples: { t: number; forwarded: number }[] = [];
  const gw = spawn(process.execPath, [...flags, BIN, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  gateway = gw;
  let gwErr = '';
  gw.stderr.on('data', (d) => (gwErr = (gwErr + d).slice(-4000)));
  // The gateway's warnings (JSON lines, level warn; no patient data in them), counted by message.
  const warnings = new Map<string, number>();
  const firstOf = new Map<string, string>();
  createInterface({ input: gw.stderr }).on('line', (l) => {
    let msg = l.slice(0, 80);
    try {
      const { time: _t, pid: _p, hostname: _h, ...rest } = JSON.parse(l) as { msg?: string; time?: unknown; pid?: unknown; hostname?: unknown };
      msg = String(rest.msg ?? msg);
      if (!firstOf.has(msg)) firstOf.set(msg, JSON.stringify(rest).slice(0, 400));
    } catch {
      // not JSON
    }
    warnings.set(msg, (warnings.get(msg) ?? 0) + 1);
  });
  const exited = new Promise<number | null>((r) => gw.on('exit', (c) => r(c)));
  const start = Date.now();
  let drainedAt: number | null = null;
  const poll = setInterval(() => {
    const s = readBufferStats(dir);
    if (!s) return;
    const t = (Date.now() - start) / 1000;
    samples.push({ t, forwarded: backlog.totalReadings - s.totalReadings });
    if (drainedAt === null && s.totalReadings === 0) drainedAt = t;
  }, 500);
  const now = () => (Date.now() - start) / 1000;
  const cpu0 = cpuSecondsOf('kafka.Kafka', cluster.dir);
  const m0 = machineTicks();

  // Before: until --before after the first reading was forwarded.
  while (!samples.some((s) => s.forwarded > 0) && now() < 120) await sleep(200);
  const firstAt = samples.find((s) => s.forwarded > 0)?.t ?? now();
  await sleep(BEFORE_S * 1000);
  const phases: { name: string; from: number; to: number }[] = [{ name: 'before the roll', from: firstAt, to: now() }];
  for (const node of [1, 2, 3]) {
    const a = now();
    await cluster.stop(node);
    const b = now();
    phases.push({ name: `node ${node}: stopping (clean shutdown)`, from: a, to: b });
    await cluster.start(node);
    const c = now();
    phases.push({ name: `node ${node}: down, then starting`, from: b, to: c });
    await allInSync();
    const d = now();
    phases.push({ name: `node ${node}: back, until 3 replicas in sync`, from: c, to: d });
    console.log(`node ${node}: stop ${(b - a).toFixed(1)} s, start ${(c - b).toFixed(1)} s, in sync ${(d - c).toFixed(1)} s`);
    if (node < 3) {
      await sleep(BETWEEN_S * 1000);
      phases.push({ name: `between node ${node} and ${node + 1}`, from: d, to: now() });
    }
  }
  const rollEnd = now();
  const rolledDuringDrain = drainedAt === null;
  while (drainedAt === null && now() < 3600) await sleep(500);
  const drainEnd = drainedAt ?? now();
  phases.push({ name: 'after the roll', from: rollEnd, to: Math.max(rollEnd, drainEnd) });
  const cpu1 = cpuSecondsOf('kafka.Kafka', cluster.dir);
  const m1 = machineTicks();
  clearInterval(poll);
  gw.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) console.log(`gateway exited with ${code}: ${gwErr.slice(-1500)}`);

  /** Forwarded count at time t (the last sample at or before it). */
  const at = (t: number) => {
    let f = 0;
    for (const s of samples) if (s.t <= t) f = s.forwarded;
    return f;
  };
  for (const p of phases) {
    const dt = p.to - p.from;
    rows.push([p.name, `${fmt((at(p.to) - at(p.from)) / Math.max(0.5, dt))} readings/s over ${dt.toFixed(1)} s`]);
  }
  let stall = 0;
  let since = samples[0]?.t ?? 0;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i]!.forwarded > samples[i - 1]!.forwarded) since = samples[i]!.t;
    else if (samples[i]!.forwarded < backlog.totalReadings) stall = Math.max(stall, samples[i]!.t - since);
  }
  const final = readBufferStats(dir)!;
  const unknownFate = readStatusFile(statusFilePath(dir))?.forwarder.unknownFate ?? 0;
  const inv = await checkInvariant(cluster.bootstrap, Object.values(topics), new Map([[gatewayId, final.lastSeq]]));
  const g = inv.gateways[0]!;
  const bytes = segmentBytes(join(cluster.dir, 'node1', 'logs'), Object.values(topics));
  rows.push(
    ['whole drain', `${fmt(backlog.totalReadings / (drainEnd - firstAt))} readings/s, ${(drainEnd - firstAt).toFixed(1)} s from the first reading forwarded`],
    ['longest time without progress (500 ms samples)', `${stall.toFixed(1)} s`],
    ['roll done before the drain ended', rolledDuringDrain ? 'yes' : `NO: drained at ${drainEnd.toFixed(1)} s, roll ended at ${rollEnd.toFixed(1)} s`],
    [
      'broker CPU (3 JVMs); machine busy',
      `${(((cpu1 - cpu0) * 1e6) / backlog.totalReadings).toFixed(1)} ms per 1,000 readings; ` +
        `${(((m1.busy - m0.busy) / (m1.total - m0.total)) * 100).toFixed(0)} %`,
    ],
    ['broker bytes per message (one replica, segments)', (bytes / Math.max(1, inv.messages)).toFixed(1)],
    ['kcat: seq missing / announced gaps', `${g.missing} / ${g.announcedGaps} of ${fmt(g.lastSeq)}`],
    ['kcat: duplicates; order violations; strangers', `${g.duplicates}; ${g.orderViolations}; ${inv.strangers}`],
    ["resent after an unknown fate (the gateway's own count)", `${fmt(unknownFate)} readings`],
    ['left in the buffer; gateway exit code', `${final.totalReadings}; ${code}`],
    [
      "the gateway's log lines, by message",
      [...warnings]
        .sort((a, b) => b[1] - a[1])
        .map(([m, n]) => `${n}x ${m}`)
        .join('; ') || 'none',
    ],
  );
  for (const line of firstOf.values()) console.log(`  first: ${line}`);
  failed = g.missing > 0 || code !== 0 || !rolledDuringDrain || final.totalReadings !== 0;
} finally {
  gateway?.kill('SIGKILL'); // gone already unless the bench failed half-way
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
  await cluster.destroy();
  // The gateways' data folders (encrypted buffers, drained), kept with WARDGATE_KAFKA_KEEP=1 like the cluster's.
  if (scratch && process.env.WARDGATE_KAFKA_KEEP !== '1') rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
