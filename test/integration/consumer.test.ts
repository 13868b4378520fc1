/**
 * The reference consumer (examples/consumer) against the real Kafka broker and a real
 * PostgreSQL (scripts/postgres-local.sh). The test produces wardgate-shaped JSON v1 messages
 * with kcat (librdkafka, not the consumer's kafkajs): two gateways, readings spread over the
 * alarm/vital/status topics out of order, resent duplicates, an unannounced hole, a hole
 * announced by a gap record, waveform batches (one resent, cut differently), and two messages
 * the consumer must skip. The expected readings
 * and gaps come from what the test produced, never from the consumer's counters.
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GAPS_SQL, PostgresSink } from '../../examples/consumer/sinks/postgres.js';
import { toWaveformBatch } from '../../src/forwarder/formats/waveform-batch.js';
import type { Reading } from '../../src/reading.js';
import { REPO, startTestGateway, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, type ProduceMessage, produceWithKcat, readTopic } from '../helpers/kafka.js';
import { type LocalPostgres, startPostgres } from '../helpers/postgres.js';

const brokers = inject('kafkaBrokers');

interface Planned {
  topic: 'alarm' | 'vital' | 'status';
  gatewayId: string;
  seq: number;
  deviceId: string;
  metric: string;
  value: number;
  extra?: Record<string, string | number | boolean>;
}

function body(p: Planned): Record<string, unknown> {
  const gatewayEvent = p.metric === 'gateway_event';
  return {
    schema: 'wardgate.reading.v1',
    gatewayId: p.gatewayId,
    seq: p.seq,
    deviceId: p.deviceId,
    deviceKind: gatewayEvent ? 'gateway' : 'simulator',
    bed: gatewayEvent ? 'gateway' : `BED-${p.deviceId}`,
    patientId: gatewayEvent ? undefined : `TEST-${p.deviceId}`,
    metric: p.metric,
    value: p.value,
    unit: gatewayEvent ? '1' : '/min',
    gatewayTime: new Date(Date.UTC(2026, 0, 1, 0, 0, p.seq)).toISOString(),
    priority: p.topic === 'vital' ? 'vital' : p.topic,
    quality: ['simulated'],
    ...(p.extra ? { extra: p.extra } : {}),
  };
}

function toMessage(p: Planned): ProduceMessage {
  return {
    key: p.deviceId,
    value: JSON.stringify(body(p)),
    headers: { 'wardgate-gateway-id': p.gatewayId, 'wardgate-seq': String(p.seq), 'wardgate-schema': 'wardgate.reading.v1' },
  };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Gateway wg-a: seqs 1..34; 18-19 never sent (unannounced); 22-24 lost and announced by the gap record at seq 31. */
function planA(): Planned[] {
  const alarms = new Set([5, 12, 27]);
  const out: Planned[] = [];
  for (const seq of range(1, 34)) {
    if ([18, 19, 22, 23, 24].includes(seq)) continue;
    if (seq === 31) {
      out.push({
        topic: 'status',
        gatewayId: 'wg-a',
        seq,
        deviceId: 'wg-a',
        metric: 'gateway_event',
        value: 3,
        // The waveform units of 21..25 were evicted; 21 and 25 were vitals and were delivered.
        extra: {
          event: 'gap',
          reason: 'max_bytes',
          class: 'waveform',
          firstSeq: 21,
          lastSeq: 25,
          fromTime: 0,
          toTime: 1,
          count: 3,
          devices: 'ecg-1',
          devicesKnown: true,
        },
      });
    } else if (seq === 20) out.push({ topic: 'status', gatewayId: 'wg-a', seq, deviceId: 'ox-1', metric: 'battery_level', value: 80 });
    else if (alarms.has(seq)) out.push({ topic: 'alarm', gatewayId: 'wg-a', seq, deviceId: 'ox-2', metric: 'heart_rate', value: 150 + seq });
    else out.push({ topic: 'vital', gatewayId: 'wg-a', seq, deviceId: seq % 2 ? 'ox-1' : 'ox-2', metric: 'heart_rate', value: 60 + seq });
  }
  return out;
}

/** Gateway wg-b: seqs 1..8 on the vital topic, 6 never sent (unannounced). */
function planB(): Planned[] {
  return range(1, 8)
    .filter((s) => s !== 6)
    .map((seq) => ({ topic: 'vital' as const, gatewayId: 'wg-b', seq, deviceId: `hr-${seq % 3}`, metric: 'heart_rate', value: 100 + seq }));
}

/** The holes of each gateway between its lowest and highest produced seq, announced when a produced gap record covers them. */
/**
 * Gateway wg-w sends waveform batches (kafka.waveformFormat: batch), made by the gateway's own
 * encoder: seqs 1..12 except 9 (unannounced); after a restart 4..8 come again cut differently.
 */
function waveSamples(): Reading[] {
  return range(1, 12)
    .filter((s) => s !== 9)
    .map((seq) => ({
      gatewayId: 'wg-w',
      seq,
      deviceId: 'mon-1',
      deviceKind: 'serial',
      bed: 'BED-mon-1',
      patientId: 'TEST-mon-1',
      metric: 'ecg_lead_ii',
      value: seq / 10,
      unit: 'mV',
      deviceTime: Date.UTC(2026, 0, 1) + seq * 4,
      gatewayTime: Date.UTC(2026, 0, 1, 0, 0, 1),
      priorityClass: 'waveform',
      quality: [],
    }));
}

function waveMessage(rs: Reading[]): ProduceMessage {
  const b = toWaveformBatch(rs);
  return {
    key: b.deviceId,
    value: JSON.stringify(b),
    headers: {
      'wardgate-gateway-id': b.gatewayId,
      'wardgate-seq': String(b.seqFirst),
      'wardgate-schema': 'wardgate.waveform.v1',
      'wardgate-seq-last': String(b.seqLast),
      'wardgate-count': String(b.count),
    },
  };
}

function expectedGaps(
  planned: Pick<Planned, 'gatewayId' | 'seq' | 'extra'>[],
): { gatewayId: string; firstSeq: number; lastSeq: number; status: string; reason?: string; class?: string }[] {
  const out: ReturnType<typeof expectedGaps> = [];
  for (const gw of [...new Set(planned.map((p) => p.gatewayId))].sort()) {
    const mine = planned.filter((p) => p.gatewayId === gw);
    const seqs = new Set(mine.map((p) => p.seq));
    const gapRecords = mine.filter((p) => p.extra?.event === 'gap');
    const max = Math.max(...seqs);
    let s = Math.min(...seqs);
    while (s <= max) {
      if (seqs.has(s)) {
        s++;
        continue;
      }
      let e = s;
      while (!seqs.has(e + 1)) e++;
      const ann = gapRecords.find((g) => (g.extra!.firstSeq as number) <= s && (g.extra!.lastSeq as number) >= e);
      out.push({
        gatewayId: gw,
        firstSeq: s,
        lastSeq: e,
        status: ann ? 'announced' : 'unannounced',
        ...(ann ? { reason: String(ann.extra!.reason), class: String(ann.extra!.class) } : {}),
      });
      s = e + 1;
    }
  }
  return out;
}

// biome-ignore lint/suspicious/noExplicitAny: the consumer's JSON lines, read field by field by the assertions (a wrong field fails them)
type JsonLine = Record<string, any>;

interface RunResult {
  code: number | null;
  lines: JsonLine[];
  stderr: string;
}

function runConsumer(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/consumer/main.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`consumer did not finish within ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        lines: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as JsonLine),
        stderr: err,
      });
    });
  });
}

describe('reference consumer: Kafka -> dedupe and gaps -> stdout and PostgreSQL', () => {
  let postgres: LocalPostgres;
  let db: pg.Client;
  const topics = uniqueTopics('consumer');
  const planned = [...planA(), ...planB()];
  const wave = waveSamples();

  beforeAll(async () => {
    postgres = await startPostgres();
    db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    await createTopics(brokers, [topics.alarm, topics.vital, topics.status, topics.waveform], 3);

    const byTopic = (t: Planned['topic']) => planned.filter((p) => p.topic === t);
    const resend = (gw: string, seqs: number[]) => planned.filter((p) => p.gatewayId === gw && seqs.includes(p.seq));
    // Alarms first (the gateway drains them first), then status, then vitals: seqs arrive out of order.
    await produceWithKcat(brokers, topics.alarm, [...byTopic('alarm').map(toMessage), ...resend('wg-a', [12]).map(toMessage)]);
    await produceWithKcat(brokers, topics.status, byTopic('status').map(toMessage));
    // Batches of 1-5, 6-8 (a hole at 9), 10-12; then 4-8 again as one batch.
    const at = (a: number, b: number) => wave.filter((r) => r.seq >= a && r.seq <= b);
    await produceWithKcat(brokers, topics.waveform, [at(1, 5), at(6, 8), at(10, 12), at(4, 8)].map(waveMessage));
    await produceWithKcat(brokers, topics.vital, [
      ...byTopic('vital').map(toMessage),
      // Batches resent after sends whose fate was unknown.
      ...resend('wg-a', [9, 10, 11]).map(toMessage),
      ...resend('wg-b', [1, 2]).map(toMessage),
      // Not a JSON v1 reading: must not reach a sink.
      {
        key: 'x',
        value: '{"resourceType":"Observation"}',
        headers: { 'wardgate-gateway-id': 'wg-a', 'wardgate-seq': '1', 'wardgate-schema': 'fhir.r4.observation' },
      },
      { key: 'x', value: 'not json', headers: { 'wardgate-schema': 'wardgate.reading.v1' } },
    ]);
  });

  afterAll(async () => {
    await db?.end();
    await postgres?.stop();
  });

  it('stores each (gateway_id, seq) once, reports exactly the gaps the test put in, and a second run from the beginning changes nothing', async () => {
    const want = expectedGaps([...planned, ...wave]);
    // The plan itself, spelled out: what the assertions below compare against.
    expect(want).toEqual([
      { gatewayId: 'wg-a', firstSeq: 18, lastSeq: 19, status: 'unannounced' },
      { gatewayId: 'wg-a', firstSeq: 22, lastSeq: 24, status: 'announced', reason: 'max_bytes', class: 'waveform' },
      { gatewayId: 'wg-b', firstSeq: 6, lastSeq: 6, status: 'unannounced' },
      { gatewayId: 'wg-w', firstSeq: 9, lastSeq: 9, status: 'unannounced' },
    ]);
    const keyOf = (gw: string, seq: number | string) => `${gw}/${seq}`;
    const wantKeys = planned.map((p) => keyOf(p.gatewayId, p.seq)).sort();
    const wantSamples = wave.map((r) => keyOf(r.gatewayId, r.seq)).sort();
    const topicArg = [topics.alarm, topics.vital, topics.status, topics.waveform].join(',');
    const args = (group: string) => [
      '--brokers',
      brokers,
      '--topics',
      topicArg,
      '--postgres',
      postgres.url,
      '--group',
      group,
      '--until-end',
      '--window',
      '1000',
    ];

    const first = await runConsumer(args(`${topics.vital}-g1`));
    expect(first.code, first.stderr).toBe(0);

    // stdout: every produced reading exactly once, with the body the test produced.
    const readings = first.lines.filter((l) => l.type === 'reading').map((l) => l.reading as Record<string, unknown>);
    expect(readings.map((r) => keyOf(String(r.gatewayId), Number(r.seq))).sort()).toEqual(wantKeys);
    const produced = new Map(planned.map((p) => [keyOf(p.gatewayId, p.seq), JSON.parse(JSON.stringify(body(p)))]));
    for (const r of readings) expect(r).toEqual(produced.get(keyOf(String(r.gatewayId), Number(r.seq))));
    const samples = first.lines.filter((l) => l.type === 'sample').map((l) => l.sample as { gatewayId: string; seq: number; value: number; time: string });
    expect(samples.map((x) => keyOf(x.gatewayId, x.seq)).sort()).toEqual(wantSamples);
    for (const x of samples) {
      const r = wave.find((w) => w.seq === x.seq)!;
      expect([x.value, x.time]).toEqual([r.value, new Date(r.deviceTime!).toISOString()]);
    }

    // stdout: the final gap view of each gateway.
    const finals = first.lines.filter((l) => l.type === 'gaps' && l.final);
    expect(finals.map((l) => l.gatewayId).sort()).toEqual(['wg-a', 'wg-b', 'wg-w']);
    const strip = (g: Record<string, unknown>) => {
      const { missing: _m, ...rest } = g;
      return rest;
    };
    expect(finals.flatMap((l) => (l.gaps as Record<string, unknown>[]).map(strip))).toEqual(want);

    // stderr (the log) carries no reading: no patient id, no device value.
    expect(first.stderr).not.toMatch(/TEST-|BED-|patient/i);

    const checkDatabase = async () => {
      const rows = await db.query<{ gateway_id: string; seq: string; value: number; metric: string; patient_id: string | null }>(
        'SELECT gateway_id, seq, value, metric, patient_id FROM wardgate_readings ORDER BY gateway_id, seq',
      );
      expect(rows.rows.map((r) => keyOf(r.gateway_id, r.seq)).sort()).toEqual(wantKeys);
      for (const r of rows.rows) {
        const p = planned.find((x) => x.gatewayId === r.gateway_id && x.seq === Number(r.seq))!;
        expect([r.value, r.metric, r.patient_id]).toEqual([p.value, p.metric, p.metric === 'gateway_event' ? null : `TEST-${p.deviceId}`]);
      }
      const ws = await db.query<{ gateway_id: string; seq: string; value: number }>('SELECT gateway_id, seq, value FROM wardgate_waveform_samples');
      expect(ws.rows.map((r) => keyOf(r.gateway_id, r.seq)).sort()).toEqual(wantSamples);
      for (const r of ws.rows) expect(r.value).toBe(wave.find((w) => w.seq === Number(r.seq))!.value);
      const gaps = await db.query('SELECT gateway_id, first_seq::int, last_seq::int, status, reason, class FROM wardgate_gaps ORDER BY gateway_id, first_seq');
      expect(gaps.rows).toEqual(
        want.map((g) => ({
          gateway_id: g.gatewayId,
          first_seq: g.firstSeq,
          last_seq: g.lastSeq,
          status: g.status,
          reason: g.reason ?? null,
          class: g.class ?? null,
        })),
      );
      // The README's SQL, from the readings table alone, finds the same holes.
      const sql = await db.query(GAPS_SQL);
      expect(sql.rows.map((r) => [r.gateway_id, Number(r.first_seq), Number(r.last_seq), r.status])).toEqual(
        want.map((g) => [g.gatewayId, g.firstSeq, g.lastSeq, g.status]),
      );
    };
    await checkDatabase();

    // A new consumer group reads everything again (a consumer that lost its offsets) over the
    // same database: the tracker, seeded from the tables, drops all of it, and the final gap
    // view (from the stored seqs and gap records) is the same.
    const second = await runConsumer(args(`${topics.vital}-g2`));
    expect(second.code, second.stderr).toBe(0);
    expect(second.lines.filter((l) => l.type === 'reading' || l.type === 'sample')).toEqual([]);
    expect(second.lines.filter((l) => l.type === 'gaps' && l.final).flatMap((l) => (l.gaps as Record<string, unknown>[]).map(strip))).toEqual(want);
    await checkDatabase();

    // The database's own dedupe, under the tracker: the same rows written again change nothing.
    const sink = await PostgresSink.open(postgres.url);
    try {
      const rows = readings.map((r, i) => ({ topic: topics.vital, partition: 0, offset: String(i), reading: r as never }));
      await sink.write(rows);
      await sink.write(rows);
    } finally {
      await sink.close();
    }
    await checkDatabase();
  });

  it('a consumer restarted on the same group and database drops a resend of what it stored before and sees a hole across the restart', async () => {
    const topic = `${uniqueTopics('consumer-restart').vital}`;
    await createTopics(brokers, [topic], 1);
    const gw = (seqs: number[]) =>
      seqs.map((seq) => toMessage({ topic: 'vital', gatewayId: 'wg-r', seq, deviceId: 'ox-9', metric: 'heart_rate', value: 70 + seq }));
    const args = ['--brokers', brokers, '--topics', topic, '--postgres', postgres.url, '--group', `${topic}-g`, '--until-end'];
    const seqsOf = (r: RunResult) => r.lines.filter((l) => l.type === 'reading').map((l) => Number(l.reading.seq));

    await produceWithKcat(brokers, topic, gw(range(1, 10)));
    const before = await runConsumer(args);
    expect(before.code, before.stderr).toBe(0);
    expect(seqsOf(before)).toEqual(range(1, 10));

    // After the restart: the gateway resends 9 and 10 (fate unknown), 11-13 never come.
    await produceWithKcat(brokers, topic, gw([9, 10, ...range(14, 16)]));
    const after = await runConsumer(args);
    expect(after.code, after.stderr).toBe(0);
    expect(seqsOf(after)).toEqual(range(14, 16));
    const final = after.lines.filter((l) => l.type === 'gaps' && l.final && l.gatewayId === 'wg-r');
    expect(final.map((l) => l.gaps.map((g: { firstSeq: number; lastSeq: number; status: string }) => [g.firstSeq, g.lastSeq, g.status]))).toEqual([
      [[11, 13, 'unannounced']],
    ]);
    const rows = await db.query<{ seq: string }>("SELECT seq FROM wardgate_readings WHERE gateway_id = 'wg-r' ORDER BY seq");
    expect(rows.rows.map((r) => Number(r.seq))).toEqual([...range(1, 10), ...range(14, 16)]);
  });

  it('a real gateway (simulated ward) into the consumer: the table holds exactly what kcat reads from the topics', async () => {
    const gwTopics = uniqueTopics('consumer-gw');
    const gw = await startTestGateway(
      testConfig(brokers, tempDir(), {
        kafka: { topics: gwTopics },
        devices: { simulator: { enabled: true, beds: 6, interval: 200, seed: 11, alarmRate: 0.2 } },
      }),
    );
    await waitFor(() => gw.ingest.committed >= 300, 30_000, '300 committed readings');
    expect(await gw.stop(20_000)).toBe(true);

    // The expected side: every message on the four topics, read by kcat.
    const all = Object.values(gwTopics);
    const seen = new Map<string, Set<number>>();
    for (const topic of all) {
      for (const m of await readTopic(brokers, topic, { timeoutMs: 30_000 })) {
        const b = JSON.parse(m.value) as { gatewayId: string; seq: number };
        if (!seen.has(b.gatewayId)) seen.set(b.gatewayId, new Set());
        seen.get(b.gatewayId)!.add(b.seq);
      }
    }
    expect(seen.size).toBe(1);
    const [gatewayId, seqs] = [...seen][0]!;
    expect(seqs.size).toBeGreaterThanOrEqual(300);
    const sorted = [...seqs].sort((a, b) => a - b);
    const holes: [number, number][] = [];
    for (let i = 1; i < sorted.length; i++) if (sorted[i]! > sorted[i - 1]! + 1) holes.push([sorted[i - 1]! + 1, sorted[i]! - 1]);

    const run = await runConsumer([
      '--brokers',
      brokers,
      '--topics',
      all.join(','),
      '--postgres',
      postgres.url,
      '--group',
      `${gwTopics.vital}-g`,
      '--until-end',
      '--no-readings',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const rows = await db.query<{ seq: string; n: string }>(
      'SELECT seq, count(*) AS n FROM wardgate_readings WHERE gateway_id = $1 GROUP BY seq ORDER BY seq',
      [gatewayId],
    );
    expect(rows.rows.map((r) => Number(r.seq))).toEqual(sorted);
    expect(rows.rows.every((r) => r.n === '1')).toBe(true);
    const final = run.lines.filter((l) => l.type === 'gaps' && l.final && l.gatewayId === gatewayId);
    expect(final).toHaveLength(1);
    expect(final[0]!.gaps.map((g: { firstSeq: number; lastSeq: number }) => [g.firstSeq, g.lastSeq])).toEqual(holes);
    expect([final[0]!.minSeq, final[0]!.maxSeq]).toEqual([sorted[0], sorted[sorted.length - 1]]);
  });
});
