/**
 * Crash: the real CLI is killed with SIGKILL ten times while it drains a backlog (and its
 * simulated ward keeps adding readings), its Kafka client in a worker thread, then run once
 * more to the end. Checked as
 * obligations with kcat, the expected side from the test: every reading of the backlog the test
 * appended (and was acknowledged) is in Kafka, found by its own device time; seq has no holes
 * up to the highest delivered and no gap record excuses any (nothing is evicted here); every
 * message is identified by (gateway id, seq) in headers and body; duplicates are identical
 * copies and come only from batches in flight at a kill (at most one per lane per kill, each
 * at most one batch long).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { getOrCreateGatewayId, openBuffer, readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { syntheticPending } from '../forwarder/synthetic.js';
import { checkDelivery, type Delivered, readDelivered } from '../forwarder/verify.js';
import { spawnCli, tempDir, uniqueTopics, waitFor } from '../helpers/gateway.js';

const brokers = inject('kafkaBrokers');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const BACKLOG = 150_000;
const KILLS = 10;
const BATCH = 2000;
const RATE_CAP = 5000;

/** Maximal runs of consecutive duplicated seqs within a topic (each should be one in-flight batch). */
function duplicateRuns(msgs: readonly Delivered[]): { runs: number; longest: number; identical: boolean } {
  const byTopic = new Map<string, Map<number, string[]>>();
  for (const m of msgs) {
    let t = byTopic.get(m.topic);
    if (!t) byTopic.set(m.topic, (t = new Map()));
    let copies = t.get(m.seq);
    if (!copies) t.set(m.seq, (copies = []));
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

describe('forwarder: SIGKILL mid-drain', () => {
  it(`killed ${KILLS} times while draining: nothing committed is lost; duplicates only from in-flight batches, identified by (gateway id, seq)`, async () => {
    const topics = uniqueTopics('fwd-crash');
    const dir = tempDir();
    const dataDir = join(dir, 'data');
    // A backlog, as if Kafka had been away: appended straight into the gateway's own buffer.
    const keyFile = join(dataDir, 'wardgate.key');
    generateKeyFile(keyFile);
    const gatewayId = getOrCreateGatewayId(dataDir, undefined);
    const log = silentLogger();
    const t0 = Date.now();
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
    const buildMs = Date.now() - t0;

    // The kill rounds drain under a rate cap (so that every kill lands mid-drain); the last run has none.
    const config = (rateCap: boolean) =>
      [
        'gateway:',
        `  dataDir: ${dataDir}`,
        'kafka:',
        `  brokers: ["${brokers}"]`,
        '  sendTimeout: 5s',
        '  retry: { initial: 100ms, max: 1s }',
        `  batch: { maxReadings: ${BATCH} }`,
        // The kill rounds run the bulk lane's client in a worker thread (kafka.clientThread), the last run on the main thread.
        ...(rateCap ? [`  rateLimit: { readingsPerSecond: ${RATE_CAP} }`, '  clientThread: true'] : []),
        '  topics:',
        ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
        'devices:',
        '  simulator: { enabled: true, beds: 10, interval: 200ms, seed: 9, alarmRate: 0.05 }',
        'log: { level: warn }',
        '',
      ].join('\n');
    const cfgFile = join(dir, 'wardgate.yaml');
    writeFileSync(cfgFile, config(true));
    const lastCfgFile = join(dir, 'wardgate-last.yaml');
    writeFileSync(lastCfgFile, config(false));

    const rounds: { forwarded: number; backlogAfterKill: number; hwm: number }[] = [];
    const inFlightAtKill: number[] = [];
    const live = () => readStatusFile(statusFilePath(dataDir));
    for (let round = 0; round < KILLS; round++) {
      const child = spawnCli(['simulate', '--config', cfgFile, '--no-live']);
      const pid = child.proc.pid;
      try {
        await waitFor(() => live()?.pid === pid && (live()?.forwarder.forwarded ?? 0) > 0, 60_000, `round ${round}: forwarding`);
        await sleep(Math.floor(Math.random() * 800));
      } finally {
        child.proc.kill('SIGKILL');
        await child.exited;
      }
      const s = readBufferStats(dataDir);
      expect(s, 'buffer readable after SIGKILL').not.toBeNull();
      rounds.push({ forwarded: live()?.forwarder.forwarded ?? 0, backlogAfterKill: s!.totalReadings, hwm: s!.lastSeq });
      // In flight at this kill, measured by the test: readings already in Kafka (kcat) that are
      // still in the buffer (read with the test's own key), so the next run sends them again.
      await sleep(500); // a produce request the broker had fully received before the kill is appended by now
      const inKafka = new Set((await readDelivered(brokers, Object.values(topics))).map((m) => m.seq));
      const held = await bufferedSeqs(dataDir, keyFile, gatewayId);
      inFlightAtKill.push(held.filter((q) => inKafka.has(q)).length);
    }
    // Every kill hit a drain in progress.
    for (const r of rounds) expect(r.backlogAfterKill, JSON.stringify(rounds)).toBeGreaterThan(BATCH);

    const last = spawnCli(['simulate', '--config', lastCfgFile, '--no-live', '--duration', '1s', '--drain-timeout', '90s']);
    const code = await last.exited;
    expect(code, last.stderr()).toBe(0);
    expect(last.stdout()).toMatch(/buffer empty/);
    const stats = readBufferStats(dataDir)!;
    expect(stats.totalReadings).toBe(0);
    expect(stats.gatewayIds).toEqual([gatewayId]);
    // Read until every reading the test offered is there (or the time is up).
    let msgs = await readDelivered(brokers, Object.values(topics), { expected: BACKLOG, timeoutMs: 90_000 });
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
    const committed = highest;
    const rep = checkDelivery(msgs, gatewayId, highest);
    const dup = duplicateRuns(msgs);
    console.log(
      `[crash] backlog of ${BACKLOG} built in ${buildMs} ms; ${KILLS} SIGKILLs mid-drain (backlog after each: ` +
        `${rounds.map((r) => r.backlogAfterKill).join(', ')}); ` +
        `committed ${committed}, delivered ${msgs.length}: ${rep.distinct} distinct, ${rep.duplicates} duplicates in ${dup.runs} runs (longest ` +
        `${dup.longest}), ` +
        `gaps announced ${rep.announcedGaps}; in flight at each kill (in Kafka and still buffered): ${inFlightAtKill.join(', ')}`,
    );
    expect(rep.missing.slice(0, 20), `${rep.missing.length} committed readings missing`).toEqual([]);
    // No eviction happens in this test: no gap record may excuse a missing seq.
    expect(rep.announcedGaps).toBe(0);
    expect(rep.distinct).toBe(highest);
    // Cross-check only (the expected side above is the test's): the buffer committed nothing beyond what arrived.
    expect(stats.lastSeq).toBe(highest);
    expect(rep.badIdentity).toBe(0);
    expect(rep.orderViolations).toEqual([]);
    // Duplicates: identical copies, from at most one batch per lane per kill.
    expect(dup.identical).toBe(true);
    expect(dup.runs).toBeLessThanOrEqual(2 * KILLS);
    expect(dup.longest).toBeLessThanOrEqual(BATCH);
    // At each kill at most one batch per lane (alarm, bulk) was on the wire; every duplicate is one of them.
    for (const n of inFlightAtKill) expect(n, `in flight at each kill: ${inFlightAtKill.join(', ')}`).toBeLessThanOrEqual(2 * BATCH);
    expect(rep.duplicates).toBeLessThanOrEqual(inFlightAtKill.reduce((a, n) => a + n, 0));
  });
});
