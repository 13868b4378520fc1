/**
 * The spine end to end against a real Kafka broker, each checked by an independent
 * consumer (kcat / Kafka's own tools, no wardgate or client code), for both Kafka clients
 * (kafkajs, @platformatic/kafka) side by side: one gateway per client at once, in one fault.
 *  (a) a simulated ward: every reading arrives exactly once, with key, headers and per-device order;
 *  (b) Kafka stopped while readings keep coming, then restarted: none lost;
 *  (c) the shipped command (bin/wardgate.js, its V8 flags) killed with SIGKILL mid-stream and
 *      started again: every committed reading arrives;
 *  (d) the shipped command's signals: `wardgate simulate` drains on SIGTERM and stops at once on
 *      a second SIGINT (buffer kept), `wardgate run` forwards and stops on SIGTERM; every reading
 *      committed across the three runs arrives;
 *  (e) the broker stalled (SIGSTOP) for less than the send timeout: still exactly once.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { openBuffer, readBufferStats } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { syntheticInput } from '../forwarder/synthetic.js';
import { ensureBuiltAsync, spawnBin } from '../helpers/bin.js';
import { type CliChild, rawBufferBytes, startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { freePort, pauseBroker, readTopic, resumeBroker, startBroker, stopBroker, type TopicMessage } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const CLIENTS = ['kafkajs', 'platformatic'] as const;
type Client = (typeof CLIENTS)[number];
/** Tests (b)-(d): readings per batch, the forwarder's two lanes (alarm, bulk) with one batch each on the wire, two faults (stop, restart). */
const B_BATCH = 200;
const B_LANES = 2;
const B_FAULTS = 2;
/** Sends in a run meant to have no fault (see exactlyOnce). */
const NO_FAULT_SEND_TIMEOUT_MS = 60_000;
/** The broker stall of (e): well under that send timeout, well over a batch's time on the wire. */
const STALL_MS = 6_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Body {
  gatewayId: string;
  seq: number;
  deviceId: string;
  priority: string;
  patientId?: string;
  metric: string;
}

async function readAll(topics: Record<string, string>): Promise<{ topic: string; cls: string; m: TopicMessage; body: Body }[]> {
  const out: { topic: string; cls: string; m: TopicMessage; body: Body }[] = [];
  for (const [cls, topic] of Object.entries(topics)) {
    for (const m of await readTopic(brokers, topic, { timeoutMs: 60_000 })) {
      out.push({ topic, cls, m, body: JSON.parse(m.value.toString()) as Body });
    }
  }
  return out;
}

/** Every seq 1..last present; returns the number of duplicate deliveries. */
function expectAllSeqs(msgs: { body: Body }[], gatewayId: string, last: number): number {
  const seen = new Map<number, number>();
  for (const { body } of msgs) {
    expect(body.gatewayId).toBe(gatewayId);
    seen.set(body.seq, (seen.get(body.seq) ?? 0) + 1);
  }
  const missing: number[] = [];
  for (let s = 1; s <= last; s++) if (!seen.has(s)) missing.push(s);
  expect(missing.slice(0, 20), `${missing.length} of ${last} sequence numbers missing in Kafka`).toEqual([]);
  expect(Math.max(...seen.keys())).toBe(last);
  return [...seen.values()].reduce((a, n) => a + n - 1, 0);
}

/** Seqs still in a stopped gateway's buffer (opened with its key; leased, never acked, so nothing changes). */
async function bufferedSeqs(dataDir: string, gatewayId: string): Promise<number[]> {
  const log = silentLogger();
  const buf = await openBuffer({ dir: dataDir, keyFile: join(dataDir, 'wardgate.key'), gatewayId, events: new Events(log), log });
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

/** A config file for the shipped command: the simulated ward into `kafkaAt`, through `client`. */
function cliConfig(dir: string, client: Client, kafkaAt: string, topics: Record<string, string>, seed: number): string {
  const file = join(dir, `wardgate-${kafkaAt.replace(/\W/g, '-')}.yaml`);
  writeFileSync(
    file,
    [
      'gateway:',
      `  dataDir: ${join(dir, 'data')}`,
      'kafka:',
      `  brokers: ["${kafkaAt}"]`,
      `  client: ${client}`,
      '  retry: { initial: 100ms, max: 1s }',
      '  connectTimeout: 2s',
      `  batch: { maxReadings: ${B_BATCH} }`,
      '  topics:',
      ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
      'devices:',
      `  simulator: { enabled: true, beds: 10, interval: 100ms, seed: ${seed} }`,
      'log: { level: warn }',
      '',
    ].join('\n'),
  );
  return file;
}

const liveOf = (dataDir: string) => readStatusFile(statusFilePath(dataDir));

async function waitForOutput(child: CliChild, re: RegExp, what: string): Promise<void> {
  await waitFor(() => re.test(child.stdout()) || child.proc.exitCode !== null, 60_000, what);
  expect(child.stdout(), `${what}; stderr: ${child.stderr()}`).toMatch(re);
}

/**
 * One gateway with `client` and the simulated ward, the test's own probes beside it; each probe
 * acknowledged to the test must be in Kafka exactly once, every seq once, key, headers and per-device
 * order as promised. `atProbe` = [k, f]: f is called once the k-th batch of probes is acknowledged,
 * and the gateway stops only after the promise it returned.
 * The send timeout is long (60 s): a send that outlives it is a fault of unknown fate, resent by a
 * new producer and so possibly duplicated (docs/forwarder.md), which a loaded CI machine could
 * otherwise cause in a run meant to have no fault.
 */
async function exactlyOnce(client: Client, tag: string, opts: { atProbe?: [number, () => Promise<void>] } = {}): Promise<void> {
  const topics = uniqueTopics(`${tag}-${client}`);
  const gw = await startTestGateway(
    testConfig(brokers, tempDir(), {
      kafka: { client, topics, sendTimeout: NO_FAULT_SEND_TIMEOUT_MS },
      devices: { simulator: { enabled: true, beds: 10, interval: 250, seed: 7, alarmRate: 0.2 } },
    }),
  );
  // What the gateway reported about failed sends: shown only when the test fails, never asserted on.
  const sendFailures: string[] = [];
  gw.events.onLogged((name, labels, count, detail) => {
    if (name === 'kafka_send_failed' || name === 'kafka_unknown_fate')
      sendFailures.push(`${name} ${JSON.stringify(labels)} x${count} ${JSON.stringify(detail ?? {})}`);
  });
  // Beside the simulated ward the test offers readings of its own through the same ingest path,
  // and records which were acknowledged to it: those must each be in Kafka exactly once.
  const probesAcked: string[] = [];
  let atProbe: Promise<void> = Promise.resolve();
  for (let b = 0; b < 20; b++) {
    const inputs = Array.from({ length: 10 }, (_, k) => ({ ...syntheticInput(k, { devices: 1 }), deviceId: `spine-probe-${b * 10 + k}` }));
    await gw.ingest.submit(inputs);
    probesAcked.push(...inputs.map((r) => r.deviceId));
    if (opts.atProbe && b + 1 === opts.atProbe[0]) atProbe = opts.atProbe[1]();
    await sleep(200);
  }
  await atProbe;
  expect(await gw.stop(20_000), client).toBe(true);

  const msgs = await readAll(topics);
  const probeCopies = new Map<string, number>();
  for (const { body } of msgs) if (body.deviceId.startsWith('spine-probe-')) probeCopies.set(body.deviceId, (probeCopies.get(body.deviceId) ?? 0) + 1);
  const reported = `the gateway reported: ${sendFailures.join('; ') || 'no failed send'}`;
  expect(
    probesAcked.filter((id) => probeCopies.get(id) !== 1).map((id) => `${id} x${probeCopies.get(id) ?? 0}`),
    `${client}: probes acknowledged to the test and not in Kafka exactly once (xN: copies in Kafka); ${reported}`,
  ).toEqual([]);
  expect(probeCopies.size).toBe(probesAcked.length);
  // Exactly once for all: no seq missing up to the highest delivered, none twice.
  const highest = msgs.reduce((a, m) => Math.max(a, m.body.seq), 0);
  expect(expectAllSeqs(msgs, gw.gatewayId, highest), `${client}: seqs in Kafka more than once; ${reported}`).toBe(0);
  expect(msgs.length).toBe(highest);
  expect(highest).toBeGreaterThan(10 * 4 * 10);
  // Cross-check only: the gateway counted the same.
  expect(gw.ingest.committed).toBe(highest);

  const partitionOf = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  for (const { topic, cls, m, body } of msgs) {
    expect(m.key).toBe(body.deviceId);
    expect(body.priority).toBe(cls);
    expect(m.headers['wardgate-gateway-id']).toBe(gw.gatewayId);
    expect(m.headers['wardgate-seq']).toBe(String(body.seq));
    expect(m.headers['wardgate-schema']).toBe('wardgate.reading.v1');
    // All of one device's readings of one class sit in one partition, in sequence order.
    const k = `${topic}|${body.deviceId}`;
    if (!partitionOf.has(k)) partitionOf.set(k, m.partition);
    expect(m.partition, client).toBe(partitionOf.get(k));
  }
  const byOffset = [...msgs].sort((x, y) => x.topic.localeCompare(y.topic) || x.m.partition - y.m.partition || x.m.offset - y.m.offset);
  for (const { topic, body } of byOffset) {
    const k = `${topic}|${body.deviceId}`;
    expect(body.seq, client).toBeGreaterThan(lastSeq.get(k) ?? 0);
    lastSeq.set(k, body.seq);
  }
  expect(new Set(msgs.map((x) => x.body.deviceId).filter((d) => !d.startsWith('spine-probe-'))).size).toBe(10);
}

describe('spine: simulated ward -> encrypted buffer -> real Kafka, both clients side by side', () => {
  beforeAll(() => ensureBuiltAsync(), 180_000);

  it('(a) every reading arrives exactly once, with key, headers and per-device order (kafkajs and platformatic, one gateway each)', async () => {
    await Promise.all(CLIENTS.map((client) => exactlyOnce(client, 'spine-a')));
  });

  it('(e) the broker stalled (SIGSTOP) for less than the send timeout: every reading still arrives exactly once (both clients in one stall)', async () => {
    // Once both gateways have had 5 probe batches acknowledged, the broker is stopped for STALL_MS
    // (sends in flight then, the simulated ward keeps committing); each gateway stops after it.
    let arrived = 0;
    let bothThere: () => void = () => undefined;
    const stall = new Promise<void>((r) => {
      bothThere = r;
    }).then(async () => {
      await pauseBroker();
      try {
        await sleep(STALL_MS);
      } finally {
        await resumeBroker();
      }
    });
    const atProbe = (): Promise<void> => {
      if (++arrived === CLIENTS.length) bothThere();
      return stall;
    };
    await Promise.all(CLIENTS.map((client) => exactlyOnce(client, 'spine-e', { atProbe: [5, atProbe] })));
  });

  it(
    '(b) Kafka stopped while readings keep coming, then restarted: every reading arrives, duplicates at most one batch per lane per fault (both ' +
      'clients in one outage)',
    async () => {
      const runs = await Promise.all(
        CLIENTS.map(async (client) => {
          const topics = uniqueTopics(`spine-b-${client}`);
          const dir = tempDir();
          const gw = await startTestGateway(
            testConfig(brokers, dir, {
              kafka: { client, topics, batch: { maxReadings: B_BATCH } },
              devices: { simulator: { enabled: true, beds: 10, interval: 100, seed: 11 } },
            }),
          );
          return { client, topics, dir, gw, atStop: 0, probesAcked: [] as string[] };
        }),
      );
      try {
        await Promise.all(runs.map((r) => waitFor(() => r.gw.forwarder.status().forwarded > 0, 30_000, `${r.client}: first readings forwarded`)));
        await stopBroker();
        for (const r of runs) r.atStop = r.gw.ingest.committed;
        await Promise.all(
          runs.map((r) => waitFor(() => r.gw.forwarder.status().state === 'offline', 30_000, `${r.client}: forwarder to notice Kafka is gone`)),
        );
        // Readings keep coming (the test waits for them) and are buffered, encrypted: no patient, device or bed names on disk.
        await Promise.all(
          runs.map((r) =>
            waitFor(() => r.gw.ingest.committed > r.atStop + 300 && r.gw.buffer.stats().totalReadings > 500, 60_000, `${r.client}: readings buffered`),
          ),
        );
        // While Kafka is down the test offers readings of its own through the same ingest path and
        // records which were acknowledged to it: each must be in Kafka once the broker is back.
        await Promise.all(
          runs.map(async (r) => {
            for (let b = 0; b < 10; b++) {
              const inputs = Array.from({ length: 10 }, (_, k) => ({ ...syntheticInput(k, { devices: 1 }), deviceId: `spine-b-probe-${b * 10 + k}` }));
              await r.gw.ingest.submit(inputs);
              r.probesAcked.push(...inputs.map((x) => x.deviceId));
            }
          }),
        );
        for (const r of runs) {
          await r.gw.buffer.flush();
          const raw = rawBufferBytes(r.dir).toString('latin1');
          for (const needle of ['SIMPAT-', 'sim-monitor-', 'BED-0']) expect(raw.includes(needle), `${r.client}: ${needle} in clear on disk`).toBe(false);
        }
      } finally {
        await startBroker();
      }
      for (const { client, gw } of runs) {
        await waitFor(
          () => gw.buffer.stats().totalReadings < 100 && gw.forwarder.status().state !== 'offline',
          90_000,
          `${client}: backlog to drain after Kafka returns`,
        );
      }
      for (const { client, topics, gw, probesAcked } of runs) {
        expect(await gw.stop(30_000), client).toBe(true);
        const msgs = await readAll(topics);
        const probesIn = new Set(msgs.map((m) => m.body.deviceId).filter((d) => d.startsWith('spine-b-probe-')));
        expect(probesAcked.length).toBe(100);
        expect(
          probesAcked.filter((id) => !probesIn.has(id)),
          `${client}: probes acknowledged to the test during the outage and not in Kafka`,
        ).toEqual([]);
        // No seq missing up to the highest delivered; the gateway's own count only as a cross-check.
        const highest = msgs.reduce((a, m) => Math.max(a, m.body.seq), 0);
        const dups = expectAllSeqs(msgs, gw.gatewayId, highest);
        expect(gw.ingest.committed, client).toBe(highest);
        // Duplicates can only come from batches on the wire at a fault: at most one per lane at the
        // stop and one per lane at the restart, each at most one batch (the test's own settings).
        expect(dups, client).toBeLessThanOrEqual(B_FAULTS * B_LANES * B_BATCH);
      }
    },
  );

  it(
    '(c) the shipped command killed with SIGKILL mid-stream and restarted: every committed reading arrives, duplicates only what the test found in ' +
      'flight at the kills',
    async () => {
      await Promise.all(
        CLIENTS.map(async (client, c) => {
          const topics = uniqueTopics(`spine-c-${client}`);
          const dir = tempDir();
          const cfgFile = cliConfig(dir, client, brokers, topics, 5 + c);
          const dataDir = join(dir, 'data');
          const inFlightAtKill: number[] = [];
          for (let round = 0; round < 2; round++) {
            const child = spawnBin(['simulate', '--config', cfgFile, '--no-live']);
            await waitFor(
              () => child.proc.exitCode !== null || (liveOf(dataDir)?.pid === child.proc.pid && (liveOf(dataDir)?.forwarder.forwarded ?? 0) > 200),
              60_000,
              `${client} round ${round}: readings forwarded`,
            );
            expect(child.proc.exitCode, `${client} round ${round}: the command ended early: ${child.stderr()}`).toBeNull();
            await sleep(Math.floor(Math.random() * 700));
            child.proc.kill('SIGKILL');
            await child.exited;
            const s = readBufferStats(dataDir);
            expect(s, 'buffer database readable after SIGKILL').not.toBeNull();
            // In flight at this kill, measured by the test: readings in Kafka (kcat) still in the buffer
            // (read with the key the CLI made), which the next run sends again.
            await sleep(500);
            const inKafka = new Set((await readAll(topics)).map((x) => x.body.seq));
            const held = await bufferedSeqs(dataDir, liveOf(dataDir)!.gatewayId);
            inFlightAtKill.push(held.filter((q) => inKafka.has(q)).length);
          }
          const last = spawnBin(['simulate', '--config', cfgFile, '--no-live', '--duration', '2s', '--drain-timeout', '30s']);
          const code = await last.exited;
          expect(code, last.stderr()).toBe(0);
          expect(last.stdout()).toMatch(/buffer empty/);
          const stats = readBufferStats(dataDir)!;
          expect(stats.totalReadings).toBe(0);
          const gatewayId = liveOf(dataDir)!.gatewayId;
          const msgs = await readAll(topics);
          // No seq missing up to the highest delivered; the buffer's own high-water mark only as a cross-check.
          const highest = msgs.reduce((a, m) => Math.max(a, m.body.seq), 0);
          expect(highest).toBeGreaterThan(400);
          const dups = expectAllSeqs(msgs, gatewayId, highest);
          expect(stats.lastSeq).toBe(highest);
          // Duplicates only from what the test measured in flight at the kills.
          expect(dups, `${client}: in flight at the kills: ${inFlightAtKill.join(', ')}`).toBeLessThanOrEqual(inFlightAtKill.reduce((a, n) => a + n, 0));
        }),
      );
    },
  );

  it('(d) the shipped command: simulate drains on SIGTERM, a second SIGINT stops at once keeping the buffer, run forwards and stops on SIGTERM; ' +
    'nothing committed is lost', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    await Promise.all(
      CLIENTS.map(async (client, c) => {
        const topics = uniqueTopics(`spine-d-${client}`);
        const dir = tempDir();
        const dataDir = join(dir, 'data');
        const deadCfg = cliConfig(dir, client, nowhere, topics, 21 + c);
        const cfg = cliConfig(dir, client, brokers, topics, 31 + c);
        const t0 = Date.now();
        const step = (what: string) => console.log(`[spine d ${client}] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);

        // 1. Kafka unreachable: readings buffer. SIGINT starts a drain that cannot finish (600 s);
        //    a second SIGINT stops at once, the readings stay in the buffer.
        const first = spawnBin(['simulate', '--config', deadCfg, '--no-live', '--drain-timeout', '600s']);
        await waitFor(
          () => first.proc.exitCode !== null || (liveOf(dataDir)?.pid === first.proc.pid && (liveOf(dataDir)?.ingestedTotal ?? 0) > 200),
          60_000,
          `${client}: readings buffered`,
        );
        expect(first.proc.exitCode, `${client}: the command ended early: ${first.stderr()}`).toBeNull();
        step('readings buffered with Kafka unreachable; SIGINT');
        first.proc.kill('SIGINT');
        await waitForOutput(first, /stopping, draining for up to 600 s/, `${client}: the drain after the first SIGINT`);
        step('draining; second SIGINT');
        first.proc.kill('SIGINT');
        const firstCode = await first.exited;
        expect(firstCode, `signal ${first.proc.signalCode}; stdout: ${first.stdout()}; stderr: ${first.stderr()}`).toBe(0);
        expect(first.stdout()).toMatch(/buffer not empty/);
        const kept = readBufferStats(dataDir)!.totalReadings;
        expect(kept).toBeGreaterThan(200);

        // 2. `wardgate run` (the systemd command) with Kafka back: forwards what was kept, stops on SIGTERM.
        step(`stopped with ${kept} readings kept; wardgate run`);
        const run = spawnBin(['run', '--config', cfg]);
        await waitFor(
          () => run.proc.exitCode !== null || (liveOf(dataDir)?.pid === run.proc.pid && (liveOf(dataDir)?.forwarder.forwarded ?? 0) >= kept),
          60_000,
          `${client}: wardgate run forwarding the kept backlog`,
        );
        expect(run.proc.exitCode, `${client}: wardgate run ended early: ${run.stderr()}`).toBeNull();
        step('run forwarded the kept readings; SIGTERM');
        run.proc.kill('SIGTERM');
        expect(await run.exited, run.stderr()).toBe(0);
        expect(run.stdout()).toMatch(/summary: gateway/);

        // 3. simulate on SIGTERM drains before it exits: the buffer is empty.
        const drain = spawnBin(['simulate', '--config', cfg, '--no-live', '--drain-timeout', '60s']);
        await waitFor(
          () => drain.proc.exitCode !== null || (liveOf(dataDir)?.pid === drain.proc.pid && (liveOf(dataDir)?.forwarder.forwarded ?? 0) > 100),
          60_000,
          `${client}: simulate forwarding`,
        );
        expect(drain.proc.exitCode, `${client}: the command ended early: ${drain.stderr()}`).toBeNull();
        step('simulate forwarding; SIGTERM');
        drain.proc.kill('SIGTERM');
        expect(await drain.exited, drain.stderr()).toBe(0);
        expect(drain.stdout()).toMatch(/SIGTERM: stopping, draining/);
        expect(drain.stdout()).toMatch(/buffer empty/);
        const stats = readBufferStats(dataDir)!;
        expect(stats.totalReadings).toBe(0);
        step('drained and stopped');

        const msgs = await readAll(topics);
        const highest = msgs.reduce((a, m) => Math.max(a, m.body.seq), 0);
        const dups = expectAllSeqs(msgs, liveOf(dataDir)!.gatewayId, highest);
        expect(stats.lastSeq).toBe(highest);
        // Clean stops: at most one batch per lane on the wire at each of the two stops with Kafka up.
        expect(dups, client).toBeLessThanOrEqual(2 * B_LANES * B_BATCH);
      }),
    );
  }, 300_000);
});
