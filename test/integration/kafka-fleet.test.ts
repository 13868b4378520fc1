/**
 * Issue 17, fleet: ten gateways, each its own `wardgate simulate` process (the shipped
 * bin/wardgate.js) with its own data folder and gateway id, into one 3-node cluster; 15 s into the
 * run the whole cluster stops for 15 s. Afterwards, read with kcat: for every gateway, every seq
 * up to the last one its buffer committed is in Kafka or announced by a gap record, and each
 * gateway's buffer is empty.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { REPO, tempDir, uniqueTopics } from '../helpers/gateway.js';
import { run } from '../helpers/kafka.js';
import { type Cluster, createReplicatedTopic, startCluster, waitForLeaders } from '../helpers/kafka-cluster.js';

const GATEWAYS = 10;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster();
}, 180_000);
afterAll(async () => {
  await cluster?.destroy();
});

describe('a fleet of gateways and a full cluster outage', () => {
  it(`${GATEWAYS} gateway processes: every committed (gateway id, seq) is in Kafka or announced as a gap`, { timeout: 360_000 }, async () => {
    const topics = uniqueTopics('fleet');
    for (const topic of Object.values(topics)) {
      await createReplicatedTopic(cluster, topic, 6);
      await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader > 0);
    }
    const root = tempDir('wg-fleet-');
    const config = join(root, 'fleet.yaml');
    writeFileSync(
      config,
      `kafka:\n  createTopics: false\n  retry:\n    initial: 250ms\n    max: 3s\n  topics:\n${Object.entries(topics)
        .map(([k, v]) => `    ${k}: "${v}"`)
        .join('\n')}\nlog:\n  level: warn\n`,
    );
    const dirs = Array.from({ length: GATEWAYS }, (_, i) => join(root, `gw${i}`));
    const started = Date.now();
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
          '3',
          '--seed',
          String(i + 1),
          '--duration',
          '40s',
          '--drain-timeout',
          '120s',
          '--no-live',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (out += d));
      return { dir, exited: new Promise<{ code: number | null; out: string }>((r) => p.on('exit', (code) => r({ code, out }))) };
    });
    await new Promise((r) => setTimeout(r, 15_000 - (Date.now() - started)));
    await cluster.stopAll();
    await new Promise((r) => setTimeout(r, 15_000));
    await cluster.startAll();
    const results = await Promise.all(procs.map((p) => p.exited));
    for (const r of results) expect(r.code, r.out.slice(-800)).toBe(0);

    const delivered = await readDelivered(cluster.bootstrap, Object.values(topics), { timeoutMs: 120_000 });
    const byGateway = new Map<string, typeof delivered>();
    for (const d of delivered) byGateway.set(d.gatewayId, [...(byGateway.get(d.gatewayId) ?? []), d]);
    expect(byGateway.size).toBe(GATEWAYS);
    for (const p of procs) {
      const { stdout } = await run(process.execPath, [join(REPO, 'bin/wardgate.js'), 'status', '--data', p.dir, '--json']);
      const st = JSON.parse(stdout.toString()) as { gatewayId: string; buffer: { lastSeq: number; totalReadings: number } };
      expect(st.buffer.totalReadings, `${st.gatewayId}: buffer empty`).toBe(0);
      const report = checkDelivery(byGateway.get(st.gatewayId) ?? [], st.gatewayId, st.buffer.lastSeq);
      expect(report.missing, st.gatewayId).toEqual([]);
      expect(report.maxSeq, st.gatewayId).toBe(st.buffer.lastSeq);
      expect(report.badIdentity).toBe(0);
      expect(report.orderViolations).toEqual([]);
    }
  });
});
