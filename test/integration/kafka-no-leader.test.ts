/**
 * Stale metadata that names a partition leader the broker list lacks (a leader moved, its broker
 * gone), with the default client (@platformatic/kafka), through a proxy that rewrites the
 * broker's Metadata responses: `wardgate run` fails those sends (PLT_KFK_NO_LEADER, our patch of
 * the client) and keeps running; once the metadata is right again, every committed reading
 * arrives. Unpatched, the client's connection pool read `host` of undefined in a callback and
 * the TypeError ended the process (found by the fleet test during a full cluster outage).
 */
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { simulatedRunConfig, spawnCli, tempDir, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { freePort, readTopic, startBroker, stopBroker } from '../helpers/kafka.js';
import { setMetadataLeaders } from '../helpers/kafka-metadata.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

/** A broker id the metadata's broker list never names (the one broker is node 1). */
const GONE = 999;

describe('@platformatic/kafka: a partition leader missing from the metadata', () => {
  it('the sends fail and the gateway keeps running; with the metadata right again every committed reading arrives once', async () => {
    const kafkaDir = tempDir('wg-kafka-noleader-');
    const kafkaPort = await freePort();
    let proxy: TcpProxy | null = null;
    let brokerStarted = false;
    try {
      proxy = await startTcpProxy({ targetPort: kafkaPort, reframe: true });
      await startBroker({ dir: kafkaDir, env: { KAFKA_PORT: String(kafkaPort), KAFKA_ADVERTISED_PORT: String(proxy.port) } });
      brokerStarted = true;
      const brokers = `127.0.0.1:${proxy.port}`;
      const topics = uniqueTopics('noleader');
      const { cfg, data } = simulatedRunConfig({
        brokers,
        topics,
        kafka: ['client: platformatic', 'sendTimeout: 3s', 'retry: { initial: 100ms, max: 1s }'],
        simulator: '{ enabled: true, beds: 4, interval: 250ms, seed: 5, alarmRate: 0.1 }',
      });
      const ours = new Set(Object.values(topics));
      const seqsIn = async (): Promise<number[]> => {
        const seqs: number[] = [];
        for (const t of ours) seqs.push(...(await readTopic(`127.0.0.1:${kafkaPort}`, t).catch(() => [])).map((r) => Number(r.headers['wardgate-seq'])));
        return seqs;
      };

      // 1. The topics made and used with the metadata as it is.
      const first = spawnCli(['run', '--config', cfg]);
      try {
        await waitFor(async () => (await seqsIn()).length >= 20 || first.proc.exitCode !== null, 60_000, 'readings in Kafka');
        expect(first.proc.exitCode, first.stderr()).toBeNull();
        first.proc.kill('SIGTERM');
        expect(await first.exited, first.stderr()).toBe(0);
      } finally {
        if (first.proc.exitCode === null) first.proc.kill('SIGKILL');
      }

      // 2. From now on every Metadata response names leader 999 for our topics' partitions.
      let rewritten = 0;
      let otherVersions = 0;
      proxy.rewriteResponses((apiKey, apiVersion, frame) => {
        if (apiKey !== 3) return;
        if (apiVersion !== 12) {
          otherVersions++;
          return;
        }
        rewritten += setMetadataLeaders(frame, (name) => ours.has(name), GONE);
      });
      const second = spawnCli(['run', '--config', cfg]);
      try {
        await waitFor(() => second.stderr().includes(`(leader ${GONE})`) || second.proc.exitCode !== null, 60_000, 'a send failing for the missing leader');
        expect(otherVersions, 'a Metadata version this test cannot rewrite').toBe(0);
        expect(rewritten).toBeGreaterThan(0);
        // Still running some sends later (the unpatched client ended the process at the first).
        const failedAt = second.stderr().split(`(leader ${GONE})`).length - 1;
        await waitFor(() => second.stderr().split(`(leader ${GONE})`).length - 1 > failedAt || second.proc.exitCode !== null, 30_000, 'another failed send');
        expect(second.proc.exitCode, second.stderr().slice(-4000)).toBeNull();
        expect(second.stderr()).toMatch(/No leader available for t\.noleader-/);

        // 3. The metadata right again: the client refreshes it after the failures and sends.
        proxy.rewriteResponses(null);
        const committed = () => readBufferStats(data)?.lastSeq ?? 0;
        const target = committed();
        await waitFor(
          async () => {
            const seqs = new Set(await seqsIn());
            return Array.from({ length: target }, (_, i) => i + 1).every((s) => seqs.has(s)) || second.proc.exitCode !== null;
          },
          60_000,
          'the readings committed during the stale metadata in Kafka',
        );
        expect(second.proc.exitCode, second.stderr().slice(-4000)).toBeNull();
        second.proc.kill('SIGTERM');
        expect(await second.exited, second.stderr().slice(-4000)).toBe(0);
      } finally {
        if (second.proc.exitCode === null) second.proc.kill('SIGKILL');
      }
      const stats = readBufferStats(data)!;
      expect(stats.totalReadings).toBe(0);
      const seqs = await seqsIn();
      expect(Array.from({ length: stats.lastSeq }, (_, i) => i + 1).filter((s) => !seqs.includes(s))).toEqual([]);
      expect(seqs.length).toBe(new Set(seqs).size);
    } finally {
      await proxy?.close();
      if (brokerStarted) await stopBroker({ dir: kafkaDir });
      rmSync(kafkaDir, { recursive: true, force: true });
    }
  }, 300_000);
});
