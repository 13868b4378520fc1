/**
 * What scripts rely on (issue 14, Tests: "keep stable, or change with a documented migration"),
 * pinned here as literals the test writes itself, the list in docs/operations.md ("What scripts
 * can rely on"): the `status --json` fields, the `simulate` summary line, the key file format
 * (a version-1 file written by hand loads; keygen writes the same shape) and JSON v1 (body,
 * key and headers of one reading). Removing or renaming any of them fails here; a new field
 * does not.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKeyRing } from '../../src/crypto/keys.js';
import { encodeJsonV1 } from '../../src/forwarder/formats/json-v1.js';
import { spawnCli, tempDir } from '../helpers/gateway.js';
import { SAMPLE_READING } from '../helpers/sample-reading.js';

async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const c = spawnCli(args);
  const code = await c.exited;
  return { code, out: c.stdout(), err: c.stderr() };
}

/** Dotted paths of every leaf and object in a JSON value (arrays are leaves). */
function paths(o: unknown, p = ''): string[] {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return [p];
  return [...(p ? [p] : []), ...Object.entries(o).flatMap(([k, v]) => paths(v, p ? `${p}.${k}` : k))];
}

const CLASSES = ['alarm', 'vital', 'status', 'waveform'];
/** status --json, version 1 (docs/operations.md). */
const STATUS_V1 = [
  'dataDir',
  'gatewayId',
  'running',
  'statusAgeMs',
  'kafka',
  'kafka.state',
  'kafka.reachable',
  'kafka.reason',
  'kafka.brokers',
  'kafka.offlineForMs',
  'kafka.inFlight',
  'kafka.drainRate',
  'kafka.consecutiveFailures',
  'kafka.nextRetryAt',
  'lastSuccessfulForward',
  'lastSuccessfulForwardAgeMs',
  'forwardedSinceStart',
  'buffer',
  'buffer.totalReadings',
  'buffer.oldestAgeMs',
  'buffer.diskBytes',
  'buffer.lastSeq',
  'buffer.quarantined',
  'buffer.perClass',
  ...CLASSES.flatMap((c) => [`buffer.perClass.${c}.readings`, `buffer.perClass.${c}.oldestGatewayTime`]),
];

describe('what scripts rely on', () => {
  it('simulate ends with "summary: gateway <id>: N readings committed, M forwarded to Kafka, …"; status --json keeps its v1 fields and agrees', async () => {
    const data = join(tempDir(), 'data');
    const r = await cli(['simulate', '--beds', '2', '--duration', '2s', '--drain-timeout', '300ms', '--brokers', '127.0.0.1:1', '--data', data, '--seed', '3']);
    expect(r.code, r.err).toBe(0);
    const last = r.out.trimEnd().split('\n').at(-1)!;
    const m = /^summary: gateway (gw-[0-9a-f]+): (\d+) readings committed, (\d+) forwarded to Kafka, (buffer empty\.|buffer not empty: .*)$/.exec(last);
    expect(m, last).not.toBeNull();
    const s = await cli(['status', '--data', data, '--json']);
    expect(s.code, s.err).toBe(0);
    const j = JSON.parse(s.out);
    expect(paths(j)).toEqual(expect.arrayContaining(STATUS_V1));
    expect(j).toMatchObject({ dataDir: data, gatewayId: m![1], running: false, lastSuccessfulForward: null });
    expect(typeof j.kafka.state).toBe('string');
    expect(j.kafka.brokers).toEqual(['127.0.0.1:1']);
    // Kafka was down: everything committed is still in the buffer, and the summary said how much.
    expect(Number(m![3])).toBe(0);
    expect(j.buffer.totalReadings).toBe(Number(m![2]));
    expect(CLASSES.reduce((n, c) => n + j.buffer.perClass[c].readings, 0)).toBe(Number(m![2]));
  }, 60_000);

  it('a version-1 key file written by hand loads; keygen writes that shape (format, version, active, keys: id, created, key)', async () => {
    const dir = tempDir();
    const key = Buffer.alloc(32, 7);
    const v1 = join(dir, 'v1.key');
    writeFileSync(
      v1,
      '{"format":"wardgate-keys","version":1,"active":2,"keys":[' +
        `{"id":1,"created":"2026-11-01T00:00:00.000Z","key":"${Buffer.alloc(32, 1).toString('base64')}"},` +
        `{"id":2,"created":"2026-12-01T00:00:00.000Z","key":"${key.toString('base64')}"}]}\n`,
    );
    chmodSync(v1, 0o600);
    const ring = loadKeyRing(v1);
    expect(ring.activeKeyId).toBe(2);
    expect(ring.get(2)!.equals(key)).toBe(true);
    expect(ring.get(1)!.equals(Buffer.alloc(32, 1))).toBe(true);

    const made = join(dir, 'made.key');
    const g = await cli(['keygen', '--key-file', made]);
    expect(g.code, g.err).toBe(0);
    const doc = JSON.parse(readFileSync(made, 'utf8'));
    expect(Object.keys(doc).sort()).toEqual(['active', 'format', 'keys', 'version']);
    expect(doc).toMatchObject({ format: 'wardgate-keys', version: 1, active: 1 });
    expect(Object.keys(doc.keys[0]).sort()).toEqual(['created', 'id', 'key']);
    expect(Buffer.from(doc.keys[0].key, 'base64')).toHaveLength(32);
  });

  it('JSON v1: one reading as its key, headers and body', () => {
    const m = encodeJsonV1(SAMPLE_READING);
    expect(m.key).toBe('mon-7');
    expect(m.headers).toEqual({ 'wardgate-gateway-id': 'gw-test', 'wardgate-seq': '42', 'wardgate-schema': 'wardgate.reading.v1' });
    expect(JSON.parse(String(m.value))).toEqual({
      schema: 'wardgate.reading.v1',
      gatewayId: 'gw-test',
      seq: 42,
      deviceId: 'mon-7',
      deviceKind: 'serial',
      bed: 'ICU-07',
      patientId: 'P-0001',
      metric: 'spo2',
      mdc: { code: 150456, refId: 'MDC_PULS_OXIM_SAT_O2' },
      loinc: '2708-6',
      value: 97,
      unit: '%',
      deviceTime: '2026-11-25T09:59:59.700Z',
      gatewayTime: '2026-11-25T10:00:00.000Z',
      priority: 'vital',
      quality: [],
    });
  });
});
