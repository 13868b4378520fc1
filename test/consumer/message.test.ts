/** The reference consumer's message parsing (examples/consumer/message.ts), table-driven. */
import { describe, expect, it } from 'vitest';
import { parseMessage, type RawMessage } from '../../examples/consumer/message.js';

const body = (over: Record<string, unknown> = {}) => ({
  schema: 'wardgate.reading.v1',
  gatewayId: 'gw-1',
  seq: 7,
  deviceId: 'ox-1',
  deviceKind: 'mqtt',
  bed: 'BED-1',
  metric: 'spo2',
  value: 97,
  unit: '%',
  gatewayTime: '2026-01-01T00:00:00.000Z',
  priority: 'vital',
  quality: [],
  ...over,
});
const headers = (gw = 'gw-1', seq = '7', schema = 'wardgate.reading.v1') => ({
  'wardgate-gateway-id': Buffer.from(gw),
  'wardgate-seq': Buffer.from(seq),
  'wardgate-schema': Buffer.from(schema),
});
const msg = (value: unknown, h: RawMessage['headers'] = headers()): RawMessage => ({
  topic: 't',
  partition: 0,
  offset: '0',
  headers: h,
  value: value === null ? null : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
});
const gapExtra = (extra: Record<string, unknown>) =>
  body({
    metric: 'gateway_event',
    deviceKind: 'gateway',
    priority: 'status',
    extra: { event: 'gap', reason: 'corrupt', class: 'vital', firstSeq: 2, lastSeq: 9, count: 3, ...extra },
  });

describe('parseMessage', () => {
  it.each([
    { name: 'a reading', m: msg(body()), out: { kind: 'reading', announcements: [] } },
    { name: 'no headers (body only) is fine', m: msg(body(), {}), out: { kind: 'reading' } },
    { name: 'a reading with no number (value null, a value_* flag)', m: msg(body({ value: null, quality: ['value_nan'] })), out: { kind: 'reading' } },
    { name: 'value a string', m: msg(body({ value: '97' })), out: { kind: 'skip', reason: 'malformed' } },
    { name: 'header gateway id differs from the body', m: msg(body(), headers('gw-2')), out: { kind: 'skip', reason: 'malformed' } },
    { name: 'header seq differs from the body', m: msg(body(), headers('gw-1', '8')), out: { kind: 'skip', reason: 'malformed' } },
    {
      name: 'a FHIR message on a FHIR topic',
      m: msg({ resourceType: 'Observation' }, headers('gw-1', '7', 'fhir.r4.observation')),
      out: { kind: 'skip', reason: 'other_schema' },
    },
    { name: 'not JSON', m: msg('{nope'), out: { kind: 'skip', reason: 'malformed' } },
    { name: 'null payload', m: msg(null), out: { kind: 'skip', reason: 'malformed' } },
    { name: 'seq not an integer', m: msg(body({ seq: 7.5 }), {}), out: { kind: 'skip', reason: 'malformed' } },
    { name: 'seq 0', m: msg(body({ seq: 0 }), {}), out: { kind: 'skip', reason: 'malformed' } },
    {
      name: 'a gap record announces firstSeq..lastSeq',
      m: msg(gapExtra({})),
      out: { kind: 'reading', announcements: [{ kind: 'gap', ranges: [[2, 9]], reason: 'corrupt', class: 'vital' }] },
    },
    {
      name: "a damaged database's gap record announces its ranges",
      m: msg(gapExtra({ ranges: '2-3,9-9' })),
      out: {
        kind: 'reading',
        announcements: [
          {
            kind: 'gap',
            ranges: [
              [2, 3],
              [9, 9],
            ],
            reason: 'corrupt',
            class: 'vital',
          },
        ],
      },
    },
    {
      name: 'a truncated ranges list falls back to the whole span',
      m: msg(gapExtra({ ranges: `${'2-3,'.repeat(250)}9-`.slice(0, 1000) })),
      out: { kind: 'reading', announcements: [{ kind: 'gap', ranges: [[2, 9]], reason: 'corrupt', class: 'vital' }] },
    },
    {
      name: 'a buffer_corrupt alarm announces its seq floor',
      m: msg(body({ metric: 'gateway_event', priority: 'alarm', extra: { event: 'buffer_corrupt', seqFloor: 1048600, saved: 1, lost: 2, quarantined: 0 } })),
      out: { kind: 'reading', announcements: [{ kind: 'seq_floor', seqFloor: 1048600 }] },
    },
  ])('$name', ({ m, out }) => {
    expect(parseMessage(m)).toMatchObject(out);
  });
});
