/**
 * Fleet benchmark (issue 17): `node --import tsx bench/fleet.ts [--gateways 20] [--beds 30]
 *   [--steady 60s] [--outage 300s] [--client kafkajs|platformatic]`
 *
 * Starts a 3-node cluster (scripts/kafka-cluster.sh: RF 3, min.insync.replicas=2) and N gateways,
 * each the shipped `bin/wardgate.js simulate` as its own process with its own data folder and
 * gateway id, at --beds each. After --steady, the whole cluster stops for --outage (every gateway
 * buffers), then returns; the devices keep running until every gateway has caught up.
 * Measured:
 *  - catch-up: from the cluster's return until each gateway's buffer holds less than one batch
 *    (polled from each gateway's status file with `wardgate status --json`): the median and the
 *    slowest gateway (goal: slowest within 1.5x the median), and the aggregate catch-up rate
 *    (readings buffered at the return, summed, over the slowest catch-up time);
 *  - broker CPU (the three JVMs' utime+stime from /proc) per 1,000 readings, and broker-side bytes
 *    per reading (the size of the topics' log folders on one node, divided by the readings in
 *    Kafka);
 *  - the end-to-end invariant, read with kcat: for every gateway, every seq up to its last
 *    committed one is in Kafka (or announced as a gap).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDelivery, readDelivered } from '../test/forwarder/verify.js';
import { REPO, tempDir, uniqueTopics } from '../test/helpers/gateway.js';
import { run } from '../test/helpers/kafka.js';
import { startCluster, waitForLeaders } from '../test/helpers/kafka-cluster.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const seconds = (s: string) => Number(s.replace(/s$/, ''));
const GATEWAYS = Number(arg('gateways', '20'));
const BEDS = Number(arg('beds', '30'));
const STEADY_S = seconds(arg('steady', '60s'));
const OUTAGE_S = seconds(arg('outage', '300s'));
const CLIENT = arg('client', 'kafkajs');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function jvmCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka')) continue;
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone
    }
  }
  return ticks / 100;
}

function du(dir: string, match: (name: string) => boolean): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || !match(e.name)) continue;
    // Segment data only: Kafka preallocates its index files (10 MiB each, mostly sparse).
    for (const f of readdirSync(join(dir, e.name))) if (f.endsWith('.log')) n += statSync(join(dir, e.name, f)).size;
  }
  return n;
}

async function status(dir: string): Promise<{ gatewayId: string; buffer: { lastSeq: number; totalReadings: number } }> {
  const { stdout } = await run(process.execPath, [join(REPO, 'bin/wardgate.js'), 'status', '--data', dir, '--json']);
  return JSON.parse(stdout.toString());
}

const cluster = await startCluster();
try {
  const topics = uniqueTopics('fleet');
  for (const topic of Object.values(topics)) {
    await cluster.tool('org.apache.kafka.tools.TopicCommand', [
      '--bootstrap-server',
      cluster.bootstrap,
      '--create',
      '--topic',
      topic,
      '--partitions',
      '12',
      '--replication-factor',
      '3',
      '--config',
      'min.insync.replicas=2',
    ]);
    await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader > 0);
  }
  const root = tempDir('wg-fleet-bench-');
  const config = join(root, 'fleet.yaml');
  writeFileSync(
    config,
    `kafka:\n  client: ${CLIENT}\n  createTopics: false\n  retry:\n    initial: 250ms\n    max: 5s\n  topics:\n${Object.entries(topics)
      .map(([k, v]) => `    ${k}: "${v}"`)
      .join('\n')}\nlog:\n  level: warn\n`,
  );
  const dirs = Array.from({ length: GATEWAYS }, (_, i) => join(root, `gw${i}`));
  console.log(`fleet: ${GATEWAYS} gateways x ${BEDS} beds, ${CLIENT}, steady ${STEADY_S}s, outage ${OUTAGE_S}s`);
  const procs = dirs.map((dir, i) => {
    const p = spawn(
      process.execPath,
      [
        join(REPO, 'bin/wardgate.js'),
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
      { stdio: 'ignore' },
    );
    return { dir, p, exited: new Promise<number | null>((r) => p.on('exit', (c) => r(c))) };
  });
  await sleep(STEADY_S * 1000);
  await cluster.stopAll();
  console.log('cluster stopped');
  await sleep(OUTAGE_S * 1000);
  const backlog = (await Promise.all(dirs.map(status))).map((s) => s.buffer.totalReadings);
  const cpu0 = jvmCpuSeconds();
  await cluster.startAll();
  const back = Date.now();
  console.log(`cluster back; ${backlog.reduce((a, b) => a + b, 0)} readings buffered across the fleet`);
  const caughtUp: (number | null)[] = dirs.map(() => null);
  while (caughtUp.some((c) => c === null) && Date.now() - back < 1_800_000) {
    await sleep(1000);
    const st = await Promise.all(dirs.map(status));
    st.forEach((s, i) => {
      if (caughtUp[i] === null && s.buffer.totalReadings < 2000) caughtUp[i] = (Date.now() - back) / 1000;
    });
  }
  const cpu1 = jvmCpuSeconds();
  for (const x of procs) x.p.kill('SIGTERM');
  await Promise.all(procs.map((x) => x.exited));

  const times = caughtUp.map((t) => t ?? Infinity);
  const slowest = Math.max(...times);
  const delivered = await readDelivered(cluster.bootstrap, Object.values(topics), { timeoutMs: 300_000 });
  let missing = 0;
  for (const dir of dirs) {
    const s = await status(dir);
    missing += checkDelivery(
      delivered.filter((d) => d.gatewayId === s.gatewayId),
      s.gatewayId,
      s.buffer.lastSeq,
    ).missing.length;
  }
  const logDir = join(cluster.dir, 'node1', 'logs');
  const bytes = du(logDir, (n) => Object.values(topics).some((t) => n.startsWith(`${t}-`)));
  const rows: [string, string][] = [
    ['readings buffered at the return (fleet)', String(backlog.reduce((a, b) => a + b, 0))],
    ['catch-up, median gateway', `${median(times).toFixed(1)} s`],
    ['catch-up, slowest gateway', `${slowest.toFixed(1)} s (${(slowest / median(times)).toFixed(2)}x the median; goal <= 1.5x)`],
    ['aggregate catch-up rate', `${Math.round(backlog.reduce((a, b) => a + b, 0) / slowest)} readings/s`],
    [
      'broker CPU during catch-up (3 JVMs)',
      `${(((cpu1 - cpu0) * 1000) / Math.max(1, backlog.reduce((a, b) => a + b, 0) / 1000)).toFixed(1)} ms per 1,000 readings`,
    ],
    ['broker bytes per reading (one replica, on disk)', (bytes / Math.max(1, delivered.length)).toFixed(1)],
    ['(gateway id, seq) missing from Kafka', String(missing)],
  ];
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${v}`);
} finally {
  await cluster.destroy();
}
