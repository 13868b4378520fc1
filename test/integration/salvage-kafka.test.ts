/**
 * Damage found while the shipped command runs, then forwarded (issue 10, defect 5, end to end):
 * the scenario of test/cli/damage-scenario.ts (a vital page destroyed on disk under a running
 * `bin/wardgate.js`, Kafka unreachable: the reading that needs the page is not acknowledged and
 * the process exits 1); the restart, with the shared real Kafka, salvages and forwards. Read
 * back from the topics with kcat: every backlog reading that was not on the destroyed page
 * arrives with its original seq (wardgate-seq header and body), none of the lost ones, and the
 * gap record (seq range and count of the lost ones) and the buffer_corrupt alarm (saved, lost)
 * arrive too. The expectation comes from the rows the test saw on the page before destroying it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { damageWhileRunning, GATEWAY_ID, listening, started } from '../cli/damage-scenario.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import { type CliChild, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { readTopic } from '../helpers/kafka.js';

const brokers = inject('kafkaBrokers');
const children: CliChild[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

interface Body {
  gatewayId: string;
  seq: number;
  metric: string;
  priority: string;
  extra?: Record<string, string | number | boolean>;
}

describe('a backlog salvaged after damage found at run time reaches Kafka', () => {
  it('every readable reading with its original seq, the gap record and the buffer_corrupt alarm; none of the lost ones', async () => {
    const d = await damageWhileRunning(children);
    expect(d.lost.size).toBeGreaterThan(0);
    expect(d.code, d.stderr).toBe(1);
    expect(d.acked).toBe(false);

    const topics = uniqueTopics('salvage');
    const kafka = ['kafka:', `  brokers: ["${brokers}"]`, '  retry: { initial: 100ms, max: 1s }', '  topics:'];
    for (const [k, v] of Object.entries(topics)) kafka.push(`    ${k}: ${v}`);
    const second = spawnBin(['run', '--config', d.config(kafka)]);
    children.push(second);
    await listening(d.mqttPort, second);
    await started(second);
    const saved = d.ids.length - d.lost.size;
    // Drained: the saved readings plus the gap record and the alarm acknowledged by Kafka, nothing left.
    await waitFor(
      () => {
        const st = readStatusFile(statusFilePath(d.data));
        return !!st && st.forwarder.forwarded >= saved + 2 && st.forwarder.backlog === 0 && st.forwarder.inFlight === 0;
      },
      60_000,
      'the salvaged backlog forwarded',
    );
    second.proc.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);

    const records = [];
    for (const t of Object.values(topics)) records.push(...(await readTopic(brokers, t).catch(() => [])));
    const mine = records.filter((r) => r.headers['wardgate-gateway-id'] === GATEWAY_ID);
    const bodies = mine.map((r) => ({ header: Number(r.headers['wardgate-seq']), body: JSON.parse(r.value) as Body }));
    for (const b of bodies) expect(b.body.seq).toBe(b.header);
    const vital = bodies.filter((b) => b.body.metric === 'heart_rate').map((b) => b.body.seq);
    expect([...new Set(vital)].sort((a, b) => a - b)).toEqual(d.ids.filter((id) => !d.lost.has(id)));
    const events = bodies.map((b) => b.body).filter((b) => b.metric === 'gateway_event');
    const gap = events.find((e) => e.extra?.event === 'gap' && e.extra.reason === 'corrupt');
    const lost = [...d.lost];
    expect(gap?.extra).toMatchObject({ class: 'vital', count: d.lost.size });
    expect(gap?.extra?.firstSeq as number).toBeLessThanOrEqual(Math.min(...lost));
    expect(gap?.extra?.firstSeq as number).toBeGreaterThan(Math.max(...vital));
    expect(gap?.extra?.lastSeq as number).toBeGreaterThanOrEqual(Math.max(...lost));
    const alarm = events.find((e) => e.extra?.event === 'buffer_corrupt');
    expect(alarm?.priority).toBe('alarm');
    expect(alarm?.extra).toMatchObject({ saved, lost: d.lost.size });
  }, 150_000);
});
