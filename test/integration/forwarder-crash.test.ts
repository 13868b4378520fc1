/**
 * Crash, for each Kafka client (kafkajs, @platformatic/kafka): the shipped command
 * (bin/wardgate.js with its V8 flags, as systemd runs it) drains a backlog the test appended
 * (its client in a worker thread), and is killed with SIGKILL at the moment the broker has
 * answered a Produce request the gateway has not seen yet: a broker of this test's own
 * advertises a loopback proxy (test/helpers/tcp-proxy.ts) that holds each Produce response for a
 * while (handshakes and metadata pass at once) and tells the test when one came back. So each kill lands with a batch in Kafka
 * and unacknowledged in the buffer: the at-least-once path. Then the command runs once more to
 * the end. Checked with kcat, the expected side from the test: every reading of the backlog is
 * in Kafka (found by its own device time); seq has no holes up to the highest delivered and no
 * gap record excuses any (nothing is evicted); duplicates are identical copies: every reading the
 * test found in Kafka and still buffered after a kill (in flight) is there twice or more, and
 * there are no more duplicates than the in-flight counts of the kills add up to.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrCreateGatewayId, openBuffer, readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { syntheticPending } from '../forwarder/synthetic.js';
import { checkDelivery, type Delivered, readDelivered } from '../forwarder/verify.js';
import { ensureBuiltAsync, spawnBin } from '../helpers/bin.js';
import { tempDir, uniqueTopics } from '../helpers/gateway.js';
import { freePort, startBroker, stopBroker } from '../helpers/kafka.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLIENTS = ['kafkajs', 'platformatic'] as const;
/** Per client. */
const BACKLOG = 20_000;
const KILLS = 3;
const BATCH = 1000;
/** How long the proxy holds each Produce response during the kill rounds (far below the 5 s send timeout). */
const REPLY_DELAY_MS = 1500;

let proxy: TcpProxy | null = null;
let kafkaDir: string | null = null;
let brokerStarted = false;

beforeAll(async () => {
  await ensureBuiltAsync();
  kafkaDir = tempDir('wg-kafka-crash-');
  const kafkaPort = await freePort();
  proxy = await startTcpProxy({ targetPort: kafkaPort });
  await startBroker({ dir: kafkaDir, env: { KAFKA_PORT: String(kafkaPort), KAFKA_ADVERTISED_PORT: String(proxy.port) } });
  brokerStarted = true;
}, 300_000);

afterAll(async () => {
  try {
    if (brokerStarted && kafkaDir) await stopBroker({ dir: kafkaDir });
  } finally {
    await proxy?.close();
    if (kafkaDir) rmSync(kafkaDir, { recursive: true, force: true });
  }
}, 90_000);

function needProxy(): TcpProxy {
  if (!proxy || !brokerStarted) throw new Error('the test broker did not start (see beforeAll)');
  return proxy;
}

/** Maximal runs of consecutive duplicated seqs within a topic (each should be one in-flight batch). */
function duplicateRuns(msgs: readonly Delivered[]): { runs: number; longest: number; identical: boolean } {
  const byTopic = new Map<string, Map<number, string[]>>();
  for (const m of msgs) {
    let t = byTopic.get(m.topic);
    if (!t) {
      t = new Map();
      byTopic.set(m.topic, t);
    }
    let copies = t.get(m.seq);
    if (!copies) {
      copies = [];
      t.set(m.seq, copies);
    }
    copies.push(`${m.key}|${m.deviceId}|${m.metric}|${m.headerSeq}|${m.headerGateway}`);
  }
  let runs = 0;
  let longest = 0;
  let identical = true;
  for (const t of byTopic.values()) {
    const seqs = [...t.keys()].sort((a, b) => a - b);
    let run = 0;
    let prevDup = false;
    for (const s of seqs) {
      const copies = t.get(s)!;
      const dup = copies.length > 1;
      if (dup && copies.some((c) => c !== copies[0])) identical = false;
      // "Consecutive" = next in this topic's seq order (other classes' seqs interleave).
      if (dup && prevDup) run++;
      else if (dup) {
        runs++;
        run = 1;
      }
      if (dup) longest = Math.max(longest, run);
      prevDup = dup;
    }
  }
  return { runs, longest, identical };
}

/** Seqs still in the buffer (opened with the test's key after a kill; leased, never acked, so nothing changes). */
async function bufferedSeqs(dataDir: string, keyFile: string, gatewayId: string): Promise<number[]> {
  const log = silentLogger();
  const buf = await openBuffer({ dir: dataDir, keyFile, gatewayId, events: new Events(log), log });
  const seqs: number[] = [];
  try {
    for (;;) {
      const l = buf.lease({ maxReadings: 50_000, maxBytes: 1 << 30 });
      if (!l) break;
      for (const r of l.readings) seqs.push(r.seq);
    }
  } finally {
    await buf.close();
  }
  return seqs;
}

describe.each(CLIENTS)('forwarder: SIGKILL mid-drain through the shipped command, %s', (client) => {
  it(
    `killed ${KILLS} times with a batch in Kafka and unacknowledged: nothing committed is lost, every in-flight reading is sent again, ` +
      'duplicates only what was in flight',
    async () => {
      const px = needProxy();
      const brokers = `127.0.0.1:${px.port}`;
      const topics = uniqueTopics(`fwd-crash-${client}`);
      const dir = tempDir();
      const dataDir = join(dir, 'data');
      // A backlog, as if Kafka had been away: appended straight into the gateway's own buffer.
      const keyFile = join(dataDir, 'wardgate.key');
      generateKeyFile(keyFile);
      const gatewayId = getOrCreateGatewayId(dataDir, undefined);
      const log = silentLogger();
      const buf = await openBuffer({ dir: dataDir, keyFile, gatewayId, events: new Events(log), log, synchronous: 'normal' });
      const now = Date.now() - 600_000;
      // What the test offered and saw acknowledged: each backlog reading is known by its device time.
      const offered = new Set<string>();
      for (let i = 0; i < BACKLOG; i += 4096) {
        const n = Math.min(4096, BACKLOG - i);
        const batch = Array.from({ length: n }, (_, k) => syntheticPending(i + k, { devices: 36, alarmEvery: 499, statusEvery: 97 }, now + i + k));
        await buf.append(batch);
        for (const r of batch) offered.add(new Date(r.deviceTime!).toISOString());
      }
      await buf.close();

      const config = (clientThread: boolean) =>
        [
          'gateway:',
          `  dataDir: ${dataDir}`,
          'kafka:',
          `  brokers: ["${brokers}"]`,
          `  client: ${client}`,
          '  sendTimeout: 5s',
          // Room for a worker thread's first ensureTopics on a loaded machine (platformatic's took longer than 5 s + 2 s grace).
          '  connectTimeout: 15s',
          '  retry: { initial: 100ms, max: 1s }',
          `  batch: { maxReadings: ${BATCH} }`,
          // The last run has its client on the main thread.
          ...(clientThread ? ['  clientThread: true'] : []),
          '  topics:',
          ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
          'devices:',
          '  simulator: { enabled: true, beds: 10, interval: 200ms, seed: 9, alarmRate: 0.05 }',
          'log: { level: warn }',
          '',
        ].join('\n');
      const cfgFile = join(dir, 'wardgate.yaml');
      // The kill rounds run the bulk lane's client in a worker thread (kafka.clientThread).
      writeFileSync(cfgFile, config(true));
      const lastCfgFile = join(dir, 'wardgate-last.yaml');
      writeFileSync(lastCfgFile, config(false));

      const backlogAfterKill: number[] = [];
      const inFlightAtKill: number[] = [];
      /** Every seq in flight at some kill (one may be counted at two kills when the run between did not send it again). */
      const inFlightSeqs = new Set<number>();
      for (let round = 0; round < KILLS; round++) {
        // Replies held: the gateway sees each acknowledgement late. The kill comes at the 1st to 3rd
        // Produce response from the broker (a different point of the drain each time).
        px.delayReplies(REPLY_DELAY_MS, { produceOnly: true });
        const killAt = px.produceResponses + 1 + Math.floor(Math.random() * 3);
        const child = spawnBin(['simulate', '--config', cfgFile, '--no-live']);
        const killed = new Promise<void>((resolve) => {
          px.onProduceResponse(() => {
            if (px.produceResponses < killAt) return;
            child.proc.kill('SIGKILL');
            resolve();
          });
        });
        let timer: NodeJS.Timeout | undefined;
        const exited = await Promise.race([
          killed.then(() => 'killed'),
          child.exited.then((code) => `exited with ${code}: ${child.stderr()}`),
          new Promise<string>((resolve) => {
            timer = setTimeout(() => resolve(`no Produce response ${killAt} within 90 s (${px.produceResponses} so far): ${child.stderr()}`), 90_000);
          }),
        ]);
        clearTimeout(timer);
        if (exited !== 'killed') child.proc.kill('SIGKILL');
        px.onProduceResponse(null);
        await child.exited;
        px.delayReplies(0);
        expect(exited, `round ${round}`).toBe('killed');
        const s = readBufferStats(dataDir);
        expect(s, 'buffer readable after SIGKILL').not.toBeNull();
        backlogAfterKill.push(s!.totalReadings);
        // In flight at this kill, measured by the test: readings already in Kafka (kcat) that are
        // still in the buffer (read with the test's own key), so the next run sends them again.
        const inKafka = new Set((await readDelivered(brokers, Object.values(topics))).map((m) => m.seq));
        const held = await bufferedSeqs(dataDir, keyFile, gatewayId);
        const inFlightNow = held.filter((q) => inKafka.has(q));
        inFlightAtKill.push(inFlightNow.length);
        for (const q of inFlightNow) inFlightSeqs.add(q);
      }
      // Every kill hit a drain in progress, with a batch the broker had written and the gateway not yet acknowledged.
      for (const n of backlogAfterKill) expect(n, `backlog after each kill: ${backlogAfterKill.join(', ')}`).toBeGreaterThan(BATCH);
      for (const n of inFlightAtKill) expect(n, `in flight at each kill: ${inFlightAtKill.join(', ')}`).toBeGreaterThan(0);

      const last = spawnBin(['simulate', '--config', lastCfgFile, '--no-live', '--duration', '1s', '--drain-timeout', '60s']);
      const code = await last.exited;
      expect(code, last.stderr()).toBe(0);
      expect(last.stdout()).toMatch(/buffer empty/);
      const stats = readBufferStats(dataDir)!;
      expect(stats.totalReadings).toBe(0);
      expect(stats.gatewayIds).toEqual([gatewayId]);
      // Read until every reading the test offered is there (or the time is up).
      let msgs = await readDelivered(brokers, Object.values(topics), { expected: BACKLOG, timeoutMs: 60_000 });
      const backlogDelivered = () => new Set(msgs.filter((m) => m.deviceId.startsWith('sim-dev-') && m.deviceTime !== undefined).map((m) => m.deviceTime!));
      for (let tries = 0; tries < 20 && backlogDelivered().size < offered.size; tries++) {
        await sleep(1000);
        msgs = await readDelivered(brokers, Object.values(topics), { expected: msgs.length + 1, timeoutMs: 5000 });
      }
      const got = backlogDelivered();
      const lostOffered = [...offered].filter((t) => !got.has(t));
      expect(lostOffered.slice(0, 10), `${lostOffered.length} of the ${offered.size} backlog readings the test appended are not in Kafka`).toEqual([]);
      expect(offered.size).toBe(BACKLOG);
      // Seqs: none missing up to the highest one delivered (the simulator's readings are only known by their seq).
      const highest = msgs.reduce((a, m) => Math.max(a, m.seq), 0);
      const rep = checkDelivery(msgs, gatewayId, highest);
      const dup = duplicateRuns(msgs);
      const inFlight = inFlightAtKill.reduce((a, n) => a + n, 0);
      console.log(
        `[crash ${client}] backlog ${BACKLOG}; ${KILLS} SIGKILLs at a held Produce response (backlog after each: ${backlogAfterKill.join(', ')}); ` +
          `in flight at each kill (in Kafka and still buffered): ${inFlightAtKill.join(', ')}; ` +
          `delivered ${msgs.length}: ${rep.distinct} distinct, ${rep.duplicates} duplicates in ${dup.runs} runs (longest ${dup.longest}), gaps announced ` +
          `${rep.announcedGaps}`,
      );
      expect(rep.missing.slice(0, 20), `${rep.missing.length} committed readings missing`).toEqual([]);
      // No eviction happens in this test: no gap record may excuse a missing seq.
      expect(rep.announcedGaps).toBe(0);
      expect(rep.distinct).toBe(highest);
      // Cross-check only (the expected side above is the test's): the buffer committed nothing beyond what arrived.
      expect(stats.lastSeq).toBe(highest);
      expect(rep.badIdentity).toBe(0);
      expect(rep.orderViolations).toEqual([]);
      // Duplicates: identical copies; at each kill at most one batch per lane (alarm, bulk) was on the wire.
      expect(dup.identical).toBe(true);
      for (const n of inFlightAtKill) expect(n, `in flight at each kill: ${inFlightAtKill.join(', ')}`).toBeLessThanOrEqual(2 * BATCH);
      // Every reading in flight at a kill was sent again (at least once), and nothing else was: the
      // duplicates are what the test measured in flight, each seq at least once, at most once per kill.
      const copies = new Map<number, number>();
      for (const m of msgs) copies.set(m.seq, (copies.get(m.seq) ?? 0) + 1);
      expect([...inFlightSeqs].filter((q) => (copies.get(q) ?? 0) < 2).slice(0, 10), 'in flight at a kill and not sent again').toEqual([]);
      expect(rep.duplicates, `in flight at the kills: ${inFlightAtKill.join(', ')}`).toBeGreaterThanOrEqual(inFlightSeqs.size);
      expect(rep.duplicates, `in flight at the kills: ${inFlightAtKill.join(', ')}`).toBeLessThanOrEqual(inFlight);
    },
  );
});
