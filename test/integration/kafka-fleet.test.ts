/**
 * Issue 17, fleet: ten gateways, each its own `wardgate simulate` process (the shipped
 * bin/wardgate.js) with its own data folder and gateway id, into one 3-node cluster; 15 s into the
 * run the whole cluster stops for 15 s. While it is down the test publishes readings of its own
 * over MQTT (QoS 1) to each gateway's embedded broker and records the PUBACKs. Afterwards, read
 * with kcat: every probe acknowledged to the test is in Kafka under that gateway's id; for every
 * gateway no seq is missing up to the highest one read back; each gateway's buffer is empty and its
 * buffer's last seq (wardgate status --json) equals the highest delivered (a cross-check).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDelivery, readDelivered } from '../forwarder/verify.js';
import { REPO, tempDir, uniqueTopics } from '../helpers/gateway.js';
import { freePort, run } from '../helpers/kafka.js';
import { type Cluster, createReplicatedTopic, startCluster, waitForLeaders } from '../helpers/kafka-cluster.js';

const GATEWAYS = 10;
const PROBES = 10;

/** Publishes PROBES QoS 1 readings at once (one device each) to a gateway's embedded broker; resolves with the device ids acknowledged. */
async function probe(port: number, gateway: number): Promise<string[]> {
  // A gateway still starting (ten at once on a loaded machine) refuses the connection: try again.
  let sensor: ReturnType<typeof connect> | undefined;
  for (const end = Date.now() + 60_000; !sensor; ) {
    const c = connect(`mqtt://127.0.0.1:${port}`, { clientId: `fleet-probe-${gateway}`, reconnectPeriod: 0, protocolVersion: 4 });
    const ok = await new Promise<boolean>((resolve) => {
      c.once('connect', () => resolve(true));
      c.once('error', () => resolve(false));
    });
    if (ok) sensor = c;
    else {
      c.end(true);
      if (Date.now() > end) throw new Error(`gateway ${gateway}: its MQTT broker on port ${port} never accepted a connection`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const acked: string[] = [];
  const ids = Array.from({ length: PROBES }, (_, k) => `fleet-probe-${gateway}-${k}`);
  const sends = ids.map((id) => sensor.publishAsync(`ward/B1/${id}/hr`, String(60 + gateway), { qos: 1 }).then(() => void acked.push(id)));
  await Promise.race([Promise.all(sends), new Promise((r) => setTimeout(r, 10_000))]).catch(() => undefined);
  sensor.end(true);
  return acked;
}

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
    // Each gateway's own config: the shared one plus an embedded MQTT broker on its own port.
    const ports: number[] = [];
    for (let i = 0; i < GATEWAYS; i++) ports.push(await freePort());
    const configs = ports.map((port, i) => {
      const file = join(root, `fleet-${i}.yaml`);
      writeFileSync(
        file,
        `${readFileSync(config, 'utf8')}devices:\n  mqtt:\n    enabled: true\n` +
          `    embedded: { tcp: { host: 127.0.0.1, port: ${port} }, auth: { anonymous: { publish: ["ward/#"] } } }\n` +
          `    rules: [{ name: probe, topic: "ward/{bed}/{device}/hr", metric: heart_rate, unit: /min, decoder: { type: text } }]\n`,
      );
      return file;
    });
    const started = Date.now();
    const procs = dirs.map((dir, i) => {
      const p = spawn(
        process.execPath,
        [
          join(REPO, 'bin/wardgate.js'),
          'simulate',
          '--config',
          configs[i]!,
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
    // The probes go out as the cluster is being stopped (a clean stop of three brokers can take
    // longer than what is left of the gateways' 40 s), so they are buffered through the outage.
    const probing = Promise.all(ports.map((port, i) => probe(port, i)));
    await cluster.stopAll();
    await new Promise((r) => setTimeout(r, 15_000));
    await cluster.startAll();
    const probesAcked = await probing;
    const results = await Promise.all(procs.map((p) => p.exited));
    for (const r of results) expect(r.code, r.out.slice(-800)).toBe(0);

    const delivered = await readDelivered(cluster.bootstrap, Object.values(topics), { timeoutMs: 120_000 });
    const byGateway = new Map<string, typeof delivered>();
    for (const d of delivered) byGateway.set(d.gatewayId, [...(byGateway.get(d.gatewayId) ?? []), d]);
    expect(byGateway.size).toBe(GATEWAYS);
    console.log(`[fleet] MQTT probes acknowledged as the cluster was stopped, per gateway: ${probesAcked.map((a) => a.length).join(', ')}`);
    for (const [i, p] of procs.entries()) {
      const { stdout } = await run(process.execPath, [join(REPO, 'bin/wardgate.js'), 'status', '--data', p.dir, '--json']);
      const st = JSON.parse(stdout.toString()) as { gatewayId: string; buffer: { lastSeq: number; totalReadings: number } };
      expect(st.buffer.totalReadings, `${st.gatewayId}: buffer empty`).toBe(0);
      const mine = byGateway.get(st.gatewayId) ?? [];
      // The test's own readings: every probe acknowledged to it during the outage arrived, under this gateway.
      expect(probesAcked[i]!.length, `gateway ${i}: probes acknowledged`).toBeGreaterThan(0);
      const got = new Set(mine.map((d) => d.deviceId));
      expect(
        probesAcked[i]!.filter((id) => !got.has(id)),
        `${st.gatewayId}: acknowledged probes not in Kafka`,
      ).toEqual([]);
      const highest = mine.reduce((a, d) => Math.max(a, d.seq), 0);
      const report = checkDelivery(mine, st.gatewayId, highest);
      expect(report.missing, st.gatewayId).toEqual([]);
      // Cross-check only: the buffer committed nothing beyond what arrived.
      expect(st.buffer.lastSeq, st.gatewayId).toBe(highest);
      expect(report.badIdentity).toBe(0);
      expect(report.orderViolations).toEqual([]);
    }
  });
});
