/**
 * Memory property of the shipped command with Kafka up (issue 10, defect 1 and its test): the
 * real `bin/wardgate.js` (the shipped 64 MiB old space, checked in /proc/PID/cmdline) takes
 *  - a 100,000-message QoS 1 backlog a real Mosquitto holds for its persistent session, and
 *  - 200 publishers writing 500 QoS 1 messages each at once into its embedded broker,
 * and drains every one of them into the shared real Kafka, with peak resident memory (sampled
 * by the test from /proc) under the systemd unit's MemoryHigh. The oracle is what the test
 * published, read back from the topic with kcat: every value, once (a resend the gateway
 * counted as of unknown fate may add a duplicate, never a loss). test/mqtt/memory-bound.test.ts
 * is the same with Kafka down (everything stays in the buffer).
 */
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { type LiveStatus, readStatusFile, statusFilePath } from '../../src/status-file.js';
import { uniqueTopics } from '../helpers/gateway.js';
import { run as runTool } from '../helpers/kafka.js';
import { Cleanup } from '../mqtt/helpers/gateway.js';
import { startMosquitto } from '../mqtt/helpers/mosquitto.js';
import {
  assertBuilt,
  expected,
  gatewayFiles,
  memoryHigh,
  mosquittoBacklog,
  nodeFlags,
  publisherFlood,
  RULES,
  type Run,
  runShipped,
  type Setup,
  startEmbedded,
  statusReaches,
} from '../mqtt/helpers/shipped.js';

const brokers = inject('kafkaBrokers');
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The gateway's Kafka section: the shared broker, topics of this test only. */
function kafkaSection(topics: ReturnType<typeof uniqueTopics>): object {
  return { brokers: [brokers], topics, retry: { initial: 100, max: 1000 } };
}

/** The `value` of every record in `topic` (JSON v1), read from the beginning with kcat. */
async function topicValues(topic: string): Promise<number[]> {
  const { stdout } = await runTool('kcat', ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%s\\n'], { timeoutMs: 60_000 });
  const values: number[] = [];
  for (const line of stdout.toString('utf8').split('\n')) if (line.startsWith('{')) values.push((JSON.parse(line) as { value: number }).value);
  return values;
}

/**
 * Stops the gateway once its status says `n` readings were taken in and its buffer is drained
 * (nothing waiting, nothing in flight), or it died, or 90 s passed; its peak RSS and exit.
 */
async function drainThenStop(
  s: Setup,
  run: Run,
  n: number,
): Promise<{ forwarded: number; unknownFate: number; alive: boolean; code: number | null; peak: number }> {
  const drained = (st: LiveStatus): boolean => st.ingestedTotal >= n && st.forwarder.backlog === 0 && st.forwarder.inFlight === 0;
  const forwarded = await statusReaches(s, run, n, 90_000, (st) => (drained(st) ? st.forwarder.forwarded : 0));
  const alive = run.alive();
  run.proc.kill('SIGTERM');
  const code = await run.exited;
  const unknownFate = readStatusFile(statusFilePath(s.dataDir))?.forwarder.unknownFate ?? 0;
  return { forwarded, unknownFate, alive, code, peak: run.peakRss() };
}

/** Every value 0..n-1 is in the topic; more only as resends of a fate the gateway did not know. */
async function expectDrained(topic: string, n: number, unknownFate: number): Promise<void> {
  const values = (await topicValues(topic)).sort((a, b) => a - b);
  expect([...new Set(values)]).toEqual(expected(n));
  expect(values.length - n).toBeLessThanOrEqual(unknownFate);
}

describe('memory is bounded and the backlog reaches Kafka (shipped heap, real processes)', () => {
  beforeAll(assertBuilt);

  it('drains a 100,000-message QoS 1 backlog of an external Mosquitto completely into Kafka, under MemoryHigh', async () => {
    const N = 100_000;
    const broker = await startMosquitto({ maxInflight: 1000, maxQueued: 1_000_000 });
    cleanup.add(() => broker.stop());
    expect(await mosquittoBacklog(broker.url, 'wg-backlog-kafka', N)).toBe(N);
    const topics = uniqueTopics('mqtt-backlog');
    const s = await gatewayFiles(
      cleanup,
      {
        enabled: true,
        external: [{ name: 'hospital', url: broker.url, clientId: 'wg-backlog-kafka', protocolVersion: 5, subscriptions: ['ward/#'] }],
        rules: RULES,
      },
      kafkaSection(topics),
    );
    const run = runShipped(cleanup, s.configFile);
    await new Promise((r) => setTimeout(r, 300));
    expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
    const r = await drainThenStop(s, run, N);
    process.stdout.write(
      `external backlog into Kafka: ${N} published, ${r.forwarded} forwarded, peak RSS ${(r.peak / 2 ** 20).toFixed(0)} MiB ` +
        `(MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(r.alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(r.code).toBe(0);
    expect(r.peak).toBeGreaterThan(0);
    expect(r.peak).toBeLessThan(memoryHigh());
    await expectDrained(topics.vital, N, r.unknownFate);
  }, 180_000);

  it('drains 200 publishers writing all their QoS 1 messages at once into the embedded broker completely into Kafka, under MemoryHigh', async () => {
    const PUBLISHERS = 200;
    const EACH = 500;
    const N = PUBLISHERS * EACH;
    const topics = uniqueTopics('mqtt-flood');
    const { s, run, url } = await startEmbedded(cleanup, kafkaSection(topics));
    expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
    const flood = await publisherFlood(cleanup, run, url, PUBLISHERS, EACH, 1, 60_000);
    await flood.end();
    const r = await drainThenStop(s, run, N);
    process.stdout.write(
      `embedded flood into Kafka: ${N} published by ${PUBLISHERS}, ${flood.acked} acknowledged, ${r.forwarded} forwarded, peak RSS ` +
        `${(r.peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(r.alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(flood.settled).toBe(true);
    expect(flood.failures).toEqual([]);
    expect(flood.acked).toBe(N);
    expect(r.code).toBe(0);
    expect(r.peak).toBeGreaterThan(0);
    expect(r.peak).toBeLessThan(memoryHigh());
    await expectDrained(topics.vital, N, r.unknownFate);
  }, 180_000);
});
