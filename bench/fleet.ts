/**
 * Fleet benchmark (issue 17): `node --import tsx bench/fleet.ts [--gateways 20] [--beds 30]
 *   [--steady 60s] [--outage 300s] [--partitions 12] [--client kafkajs|platformatic] [--bin bin/wardgate.js]
 *   [--ceiling-records 200000]`
 *
 * Starts a 3-node cluster (scripts/kafka-cluster.sh: RF 3, min.insync.replicas=2) and N gateways,
 * each the shipped command (`bin/wardgate.js simulate` with the V8 flags of its first line) as its
 * own process with its own data folder and gateway id, at --beds each (the config's default Kafka
 * client unless --client). After --steady, the whole cluster stops for --outage (every gateway
 * buffers), then returns; the devices keep running until every gateway has caught up.
 * Each gateway's buffer is read once a second in this process (its meta counters: readings
 * buffered, last seq; read-only, no key), not by starting `wardgate status` N times a second.
 * Measured:
 *  - start-up: until every gateway has committed a reading (the steady window starts 10 s later);
 *  - steady state and outage: readings committed per second (fleet and per gateway), broker CPU
 *    per 1,000 readings, the machine's busy share;
 *  - catch-up (time to drain): from the cluster's return until each gateway's buffer holds less
 *    than one batch (2,000 readings): the median and the slowest gateway (goal: slowest within
 *    1.5x the median); the aggregate catch-up rate (readings sent to Kafka by the fleet until the
 *    slowest caught up, backlog plus what the wards added meanwhile, over that time; and the
 *    backlog alone over that time), and the peak 10 s rate;
 *  - broker CPU (the three JVMs' utime+stime from /proc), the gateways' CPU and the machine's busy
 *    share during the catch-up; broker-side bytes per message (the topics' segment files on one
 *    node over the messages in Kafka; the cluster stores three replicas);
 *  - the end-to-end invariant, read with kcat (bench/cluster-measure.ts): for every gateway, every
 *    seq up to its last committed one in Kafka exactly once, or announced as a gap; duplicates and
 *    per-device order counted;
 *  - the cluster's own ceiling on the machine as loaded then: Kafka's ProducerPerformance (acks=all,
 *    idempotent, about the same message size) after the gateways stopped, and the catch-up as a
 *    fraction of it.
 * Exits 1 when a seq is missing or a gateway process failed.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readBufferStats } from '../src/buffer/status.js';
import { readStatusFile, statusFilePath } from '../src/status-file.js';
import { REPO, tempDir, uniqueTopics } from '../test/helpers/gateway.js';
import { createReplicatedTopic, startCluster, waitForLeaders } from '../test/helpers/kafka-cluster.js';
import { checkInvariant, cpuSecondsOf, machineTicks, pidCpuTicks, segmentBytes, shippedNodeFlags } from './cluster-measure.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const seconds = (s: string) => Number(s.replace(/s$/, ''));
const GATEWAYS = Number(arg('gateways', '20'));
const BEDS = Number(arg('beds', '30'));
const STEADY_S = seconds(arg('steady', '60s'));
const OUTAGE_S = seconds(arg('outage', '300s'));
const PARTITIONS = Number(arg('partitions', '12'));
const CLIENT = arg('client', '');
/** Records for Kafka's ProducerPerformance after the run (the cluster's ceiling on this machine); 0: skip. */
const CEILING = Number(arg('ceiling-records', '200000'));
const BIN = resolve(arg('bin', join(REPO, 'bin/wardgate.js')));
/** "Caught up": fewer readings buffered than one batch (kafka.batch.maxReadings' default). */
const CAUGHT_UP_BELOW = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (x: number) => (x * 100).toFixed(0);

interface Sample {
  buffered: number;
  lastSeq: number;
}
function sample(dir: string): Sample {
  try {
    const s = readBufferStats(dir);
    return { buffered: s?.totalReadings ?? 0, lastSeq: s?.lastSeq ?? 0 };
  } catch {
    return { buffered: 0, lastSeq: 0 }; // a buffer file still being created: no schema yet
  }
}
const sampleAll = (dirs: string[]) => dirs.map(sample);

/** A window's meters: broker CPU, the gateways' CPU, the machine's ticks. */
function meters(pids: number[]) {
  return { t: Date.now(), broker: cpuSecondsOf('kafka.Kafka', cluster.dir), gw: sum(pids.map(pidCpuTicks)) / 100, m: machineTicks() };
}
function windowOf(a: ReturnType<typeof meters>, b: ReturnType<typeof meters>) {
  const s = (b.t - a.t) / 1000;
  return { s, broker: b.broker - a.broker, gw: b.gw - a.gw, busy: (b.m.busy - a.m.busy) / Math.max(1, b.m.total - a.m.total) };
}

// On a loaded 2-core machine a broker can take more than kafka-local.sh's default 60 s to start.
process.env.KAFKA_START_TIMEOUT ??= '170';
const cluster = await startCluster();
const rows: [string, string][] = [];
let scratch: string | null = null;
let failed = false;
/** Every gateway process, killed in `finally` should the bench fail half-way. */
const children: { kill(signal: NodeJS.Signals): boolean }[] = [];
try {
  const topics = uniqueTopics('fleet');
  for (const topic of Object.values(topics)) {
    await createReplicatedTopic(cluster, topic, PARTITIONS);
    await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader > 0);
  }
  const root = tempDir('wg-fleet-bench-');
  scratch = root;
  const config = join(root, 'fleet.yaml');
  writeFileSync(
    config,
    `kafka:\n${CLIENT ? `  client: ${CLIENT}\n` : ''}  createTopics: false\n  retry:\n    initial: 250ms\n    max: 5s\n  topics:\n${Object.entries(topics)
      .map(([k, v]) => `    ${k}: "${v}"`)
      .join('\n')}\nlog:\n  level: warn\n`,
  );
  const dirs = Array.from({ length: GATEWAYS }, (_, i) => join(root, `gw${i}`));
  const flags = shippedNodeFlags(BIN);
  console.log(
    `fleet: ${GATEWAYS} gateways x ${BEDS} beds, client ${CLIENT || 'default'}, steady ${STEADY_S}s, outage ${OUTAGE_S}s; node ${flags.join(' ')} ${BIN}`,
  );
  const procs = dirs.map((dir, i) => {
    const p = spawn(
      process.execPath,
      [
        ...flags,
        BIN,
        'simulate',
        '--config',
        config,
        '--brokers',
        cluster.bootstrap,
        '--data',
        dir,
        '--beds',
        String(BEDS),
        '--seed',
        String(i + 1),
        '--drain-timeout',
        '600s',
        '--no-live',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    p.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    children.push(p);
    return { dir, pid: p.pid!, p, exited: new Promise<{ code: number | null; err: string }>((r) => p.on('exit', (code) => r({ code, err }))) };
  });
  const pids = procs.map((x) => x.pid);

  // Steady state: once every gateway has committed a reading (on a loaded machine, 20 starts take
  // a while) and 10 s more, a measured window of --steady.
  const spawned = Date.now();
  while (sampleAll(dirs).some((s) => s.lastSeq === 0) && Date.now() - spawned < 600_000) await sleep(1000);
  const upAfter = (Date.now() - spawned) / 1000;
  console.log(`every gateway committing after ${upAfter.toFixed(1)} s`);
  await sleep(10_000);
  const s0 = sampleAll(dirs);
  const m0 = meters(pids);
  await sleep(STEADY_S * 1000);
  const s1 = sampleAll(dirs);
  const m1 = meters(pids);
  const steady = windowOf(m0, m1);
  const steadyPer = s1.map((x, i) => (x.lastSeq - s0[i]!.lastSeq) / steady.s);
  const steadyReadings = sum(s1.map((x, i) => x.lastSeq - s0[i]!.lastSeq));
  rows.push(
    ['start-up: every gateway committing after', `${upAfter.toFixed(1)} s`],
    [
      'steady: readings committed/s, fleet',
      `${fmt(steadyReadings / steady.s)} (per gateway: median ${median(steadyPer).toFixed(1)}, lowest ${Math.min(...steadyPer).toFixed(1)})`,
    ],
    ['steady: buffered per gateway at its end, max', fmt(Math.max(...s1.map((x) => x.buffered)))],
    [
      'steady: broker CPU; gateways CPU; machine busy',
      `${((steady.broker * 1e6) / Math.max(1, steadyReadings)).toFixed(1)} ms per 1,000 readings (${pct(steady.broker / steady.s)} % of a core); ` +
        `${pct(steady.gw / steady.s)} % of a core; ${pct(steady.busy)} % of the machine`,
    ],
  );

  const stopAt = Date.now();
  await cluster.stopAll();
  const stopped = sampleAll(dirs);
  const mOut0 = meters(pids);
  console.log('cluster stopped');
  await sleep(OUTAGE_S * 1000);
  const mOut1 = meters(pids);
  const outWin = windowOf(mOut0, mOut1);
  await cluster.startAll();
  const back = Date.now();
  const atBack = sampleAll(dirs);
  const mBack = meters(pids);
  const backlog = atBack.map((x) => x.buffered);
  const outPer = atBack.map((x, i) => (x.lastSeq - stopped[i]!.lastSeq) / ((back - mOut0.t) / 1000));
  rows.push(
    ['outage: readings committed/s, fleet', `${fmt(sum(outPer))} (per gateway: median ${median(outPer).toFixed(1)}, lowest ${Math.min(...outPer).toFixed(1)})`],
    ['outage: from the stop command to the cluster ready again', `${((back - stopAt) / 1000).toFixed(1)} s`],
    ['outage: gateways CPU; machine busy', `${((outWin.gw / outWin.s) * 100).toFixed(0)} % of a core; ${(outWin.busy * 100).toFixed(0)} % of the machine`],
  );
  console.log(`cluster back; ${fmt(sum(backlog))} readings buffered across the fleet (largest ${fmt(Math.max(...backlog))})`);

  // Catch-up. sent(i) = what gateway i sent since the return: its backlog plus what it committed since, less what it still holds.
  const caughtUp: (number | null)[] = dirs.map(() => null);
  const resumed: (number | null)[] = dirs.map(() => null);
  const series: { t: number; sent: number }[] = [{ t: 0, sent: 0 }];
  let last = atBack;
  while (caughtUp.some((c) => c === null) && Date.now() - back < 1_800_000) {
    await sleep(1000);
    last = sampleAll(dirs);
    const t = (Date.now() - back) / 1000;
    last.forEach((s, i) => {
      if (caughtUp[i] === null && s.buffered < CAUGHT_UP_BELOW) caughtUp[i] = t;
      if (resumed[i] === null && backlog[i]! + (s.lastSeq - atBack[i]!.lastSeq) - s.buffered > 0) resumed[i] = t;
    });
    series.push({ t, sent: sum(last.map((s, i) => backlog[i]! + (s.lastSeq - atBack[i]!.lastSeq) - s.buffered)) });
    if (series.length % 10 === 1)
      console.log(`  ${t.toFixed(0)} s: ${fmt(series.at(-1)!.sent)} sent, ${caughtUp.filter((c) => c !== null).length}/${GATEWAYS} caught up`);
  }
  const mEnd = meters(pids);
  const catchWin = windowOf(mBack, mEnd);
  const sent = series.at(-1)!.sent;
  let peak = 0;
  for (let i = 0; i < series.length; i++) {
    const j = series.findIndex((x) => x.t >= series[i]!.t + 10);
    if (j > 0) peak = Math.max(peak, (series[j]!.sent - series[i]!.sent) / (series[j]!.t - series[i]!.t));
  }
  const times = caughtUp.map((t) => t ?? Number.POSITIVE_INFINITY);
  const resumedAt = resumed.map((t) => t ?? Number.POSITIVE_INFINITY);
  const slowest = Math.max(...times);
  const slowestAt = times.indexOf(slowest);

  for (const x of procs) x.p.kill('SIGTERM');
  const exits = await Promise.all(procs.map((x) => x.exited));
  const bad = exits.map((e, i) => ({ ...e, i })).filter((e) => e.code !== 0);
  for (const e of bad) console.log(`gateway ${e.i} exited with ${e.code}: ${e.err.slice(-400)}`);

  const final = dirs.map((dir) => {
    const st = readStatusFile(statusFilePath(dir));
    return { dir, gatewayId: st?.gatewayId ?? '', unknownFate: st?.forwarder.unknownFate ?? 0, ...sample(dir) };
  });
  const inv = await checkInvariant(cluster.bootstrap, Object.values(topics), new Map(final.map((f) => [f.gatewayId, f.lastSeq])));
  const missing = sum(inv.gateways.map((g) => g.missing));
  const bytes = segmentBytes(join(cluster.dir, 'node1', 'logs'), Object.values(topics));
  rows.push(
    ['readings buffered at the return (fleet)', `${fmt(sum(backlog))} (per gateway: median ${fmt(median(backlog))}, largest ${fmt(Math.max(...backlog))})`],
    ['first readings sent after the return, per gateway', `median ${median(resumedAt).toFixed(1)} s, last ${Math.max(...resumedAt).toFixed(1)} s`],
    ['catch-up (buffer below one batch), median gateway', `${median(times).toFixed(1)} s`],
    [
      'catch-up, slowest gateway (time to drain)',
      `${slowest.toFixed(1)} s, gateway ${slowestAt} (${(slowest / median(times)).toFixed(2)}x the median; goal <= 1.5x); ` +
        `fastest ${Math.min(...times).toFixed(1)} s`,
    ],
    ['aggregate catch-up rate, sent to Kafka', `${fmt(sent / slowest)} readings/s (${fmt(sent)} sent in ${slowest.toFixed(1)} s; peak 10 s: ${fmt(peak)}/s)`],
    ['aggregate catch-up rate, backlog cleared', `${fmt(sum(backlog) / slowest)} readings/s`],
    [
      'catch-up: broker CPU (3 JVMs)',
      `${((catchWin.broker * 1e6) / Math.max(1, sent)).toFixed(1)} ms per 1,000 readings (${((catchWin.broker / catchWin.s) * 100).toFixed(0)} % of a core)`,
    ],
    [
      'catch-up: gateways CPU; machine busy',
      `${((catchWin.gw / catchWin.s) * 100).toFixed(0)} % of a core; ${(catchWin.busy * 100).toFixed(0)} % of the machine`,
    ],
    [
      'broker bytes per message (one replica, segments)',
      `${(bytes / Math.max(1, inv.messages)).toFixed(1)} (${fmt(bytes / 2 ** 20)} MiB on node 1 for ${fmt(inv.messages)} messages)`,
    ],
    [
      'kcat: (gateway id, seq) missing / announced gaps',
      `${missing} / ${sum(inv.gateways.map((g) => g.announcedGaps))} of ${fmt(sum(final.map((f) => f.lastSeq)))} committed`,
    ],
    [
      'kcat: duplicates; order violations; strangers',
      `${sum(inv.gateways.map((g) => g.duplicates))}; ${sum(inv.gateways.map((g) => g.orderViolations))}; ${inv.strangers}`,
    ],
    ["resent after an unknown fate (the gateways' own count)", `${fmt(sum(final.map((f) => f.unknownFate)))} readings`],
    ['left in the buffers after the stop; failed processes', `${fmt(sum(final.map((f) => f.buffered)))}; ${bad.length}`],
  );
  if (CEILING > 0) {
    // The cluster's own ceiling on this machine now: Kafka's ProducerPerformance, acks=all, idempotent, message size as measured.
    const t = `${topics.vital}.ceiling`;
    await createReplicatedTopic(cluster, t, PARTITIONS);
    await waitForLeaders(cluster.bootstrap, t, (p) => p.leader > 0);
    const size = Math.max(100, Math.round(bytes / Math.max(1, inv.messages)) - 70);
    const out = await cluster.tool(
      'org.apache.kafka.tools.ProducerPerformance',
      [
        '--topic',
        t,
        '--num-records',
        String(CEILING),
        '--record-size',
        String(size),
        '--throughput',
        '-1',
        '--producer-props',
        `bootstrap.servers=${cluster.bootstrap}`,
        'acks=all',
        'enable.idempotence=true',
        'linger.ms=5',
      ],
      900_000,
    );
    const line = out.trim().split('\n').pop() ?? '';
    const rate = Number(/([\d.]+) records\/sec/.exec(line)?.[1] ?? Number.NaN);
    rows.push([
      'ceiling: ProducerPerformance after the run',
      `${fmt(rate)} records/s of ${size} B (${fmt(CEILING)} records; the fleet's catch-up: ${((sent / slowest / rate) * 100).toFixed(0)} % of it)`,
    ]);
  }
  for (const g of inv.gateways) if (g.missing > 0) console.log(`  ${g.gatewayId}: ${g.missing} missing of ${g.lastSeq}`);
  failed = missing > 0 || bad.length > 0 || inv.gateways.length !== GATEWAYS || caughtUp.includes(null);
} finally {
  for (const c of children) c.kill('SIGKILL');
  for (const [k, v] of rows) console.log(`${k.padEnd(54)} ${v}`);
  await cluster.destroy();
  // The gateways' data folders (encrypted buffers, drained), kept with WARDGATE_KAFKA_KEEP=1 like the cluster's.
  if (scratch && process.env.WARDGATE_KAFKA_KEEP !== '1') rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = failed ? 1 : 0;
