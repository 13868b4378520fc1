/**
 * PostgreSQL sink (npm `pg`): one row per reading, primary key (gateway_id, seq), written with
 * INSERT ... ON CONFLICT (gateway_id, seq) DO NOTHING, so a reading stored once stays stored
 * once whatever Kafka or a restarted consumer delivers again. Samples of waveform batches go to
 * wardgate_waveform_samples with the same key; gap views to wardgate_gaps.
 * The table definitions are SCHEMA_SQL below (also in examples/consumer/README.md).
 */
import pg from 'pg';
import { announcementsOf } from '../message.js';
import type { Range } from '../ranges.js';
import type { Announcement, GatewayGaps } from '../tracker.js';
import type { SampleRow, Sink, SinkRow } from './sink.js';

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS wardgate_readings (
  gateway_id      text             NOT NULL,
  seq             bigint           NOT NULL,
  device_id       text             NOT NULL,
  device_kind     text             NOT NULL,
  bed             text             NOT NULL,
  patient_id      text,
  metric          text             NOT NULL,
  value           double precision,
  unit            text             NOT NULL,
  device_time     timestamptz,
  gateway_time    timestamptz      NOT NULL,
  priority        text             NOT NULL,
  quality         text[]           NOT NULL,
  extra           jsonb,
  kafka_topic     text             NOT NULL,
  kafka_partition integer          NOT NULL,
  kafka_offset    bigint           NOT NULL,
  received_at     timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, seq)
);
-- null: the device sent a special value (quality value_*); tables made before that allowed it are altered.
ALTER TABLE wardgate_readings ALTER COLUMN value DROP NOT NULL;
CREATE INDEX IF NOT EXISTS wardgate_readings_device_time ON wardgate_readings (device_id, gateway_time);
CREATE TABLE IF NOT EXISTS wardgate_waveform_samples (
  gateway_id      text             NOT NULL,
  seq             bigint           NOT NULL,
  device_id       text             NOT NULL,
  device_kind     text             NOT NULL,
  bed             text             NOT NULL,
  patient_id      text,
  metric          text             NOT NULL,
  value           double precision NOT NULL,
  unit            text             NOT NULL,
  sample_time     timestamptz      NOT NULL,
  clock           text             NOT NULL CHECK (clock IN ('device', 'gateway')),
  quality         text[]           NOT NULL,
  kafka_topic     text             NOT NULL,
  kafka_partition integer          NOT NULL,
  kafka_offset    bigint           NOT NULL,
  received_at     timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, seq)
);
CREATE TABLE IF NOT EXISTS wardgate_gaps (
  gateway_id  text        NOT NULL,
  first_seq   bigint      NOT NULL,
  last_seq    bigint      NOT NULL,
  status      text        NOT NULL CHECK (status IN ('announced', 'unannounced')),
  reason      text,
  class       text,
  final       boolean     NOT NULL,
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gateway_id, first_seq)
);
`;

const INSERT_READINGS = `
INSERT INTO wardgate_readings (gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit,
  device_time, gateway_time, priority, quality, extra, kafka_topic, kafka_partition, kafka_offset)
SELECT gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit, device_time, gateway_time, priority,
  ARRAY(SELECT jsonb_array_elements_text(quality)), extra, kafka_topic, kafka_partition, kafka_offset
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[],
  $10::timestamptz[], $11::timestamptz[], $12::text[], $13::jsonb[], $14::jsonb[], $15::text[], $16::int[], $17::bigint[])
  AS r(gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit, device_time, gateway_time, priority,
  quality, extra, kafka_topic, kafka_partition, kafka_offset)
ON CONFLICT (gateway_id, seq) DO NOTHING`;

const INSERT_SAMPLES = `
INSERT INTO wardgate_waveform_samples (gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit,
  sample_time, clock, quality, kafka_topic, kafka_partition, kafka_offset)
SELECT gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit, sample_time, clock,
  ARRAY(SELECT jsonb_array_elements_text(quality)), kafka_topic, kafka_partition, kafka_offset
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[],
  $10::timestamptz[], $11::text[], $12::jsonb[], $13::text[], $14::int[], $15::bigint[])
  AS r(gateway_id, seq, device_id, device_kind, bed, patient_id, metric, value, unit, sample_time, clock, quality,
  kafka_topic, kafka_partition, kafka_offset)
ON CONFLICT (gateway_id, seq) DO NOTHING`;

/** Runs of consecutive stored seqs per gateway (gaps and islands). */
const ISLANDS_SQL = `
WITH seqs AS (
  SELECT gateway_id, seq FROM wardgate_readings
  UNION SELECT gateway_id, seq FROM wardgate_waveform_samples
)
SELECT gateway_id, min(seq) AS first_seq, max(seq) AS last_seq
FROM (SELECT gateway_id, seq, seq - row_number() OVER (PARTITION BY gateway_id ORDER BY seq) AS grp FROM seqs) t
GROUP BY gateway_id, grp
ORDER BY gateway_id, first_seq`;

export class PostgresSink implements Sink {
  readonly name = 'postgres';
  /** Rows the database already had (ON CONFLICT): duplicates the tracker could not know of. */
  conflicts = 0;

  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PostgresSink> {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    await pool.query(SCHEMA_SQL);
    return new PostgresSink(pool);
  }

  /**
   * What earlier runs stored, per gateway: seqs as ranges (islands over both tables) and the
   * announcements of the stored gap records and buffer_corrupt alarms, to seed the tracker.
   * Reads every stored seq once: a start-up cost that grows with the tables.
   */
  async storedState(): Promise<{ gatewayId: string; seen: Range[]; announcements: Announcement[] }[]> {
    const islands = await this.pool.query<{ gateway_id: string; first_seq: string; last_seq: string }>(ISLANDS_SQL);
    const events = await this.pool.query<{ gateway_id: string; extra: Record<string, string | number | boolean> }>(
      `SELECT gateway_id, extra FROM wardgate_readings WHERE metric = 'gateway_event' AND extra->>'event' IN ('gap', 'buffer_corrupt') ORDER BY ` +
        `gateway_id, seq`,
    );
    const out = new Map<string, { gatewayId: string; seen: Range[]; announcements: Announcement[] }>();
    const of = (id: string) => {
      let gateway = out.get(id);
      if (!gateway) {
        gateway = { gatewayId: id, seen: [], announcements: [] };
        out.set(id, gateway);
      }
      return gateway;
    };
    for (const r of islands.rows) of(r.gateway_id).seen.push([Number(r.first_seq), Number(r.last_seq)]);
    for (const r of events.rows) of(r.gateway_id).announcements.push(...announcementsOf({ metric: 'gateway_event', extra: r.extra }));
    return [...out.values()];
  }

  async write(rows: readonly SinkRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols: unknown[][] = Array.from({ length: 17 }, () => []);
    for (const { topic, partition, offset, reading: r } of rows) {
      const v = [
        r.gatewayId,
        r.seq,
        r.deviceId,
        r.deviceKind,
        r.bed,
        r.patientId ?? null,
        r.metric,
        r.value,
        r.unit,
        r.deviceTime ?? null,
        r.gatewayTime,
        r.priority,
        JSON.stringify(r.quality),
        r.extra === undefined ? null : JSON.stringify(r.extra),
        topic,
        partition,
        offset,
      ];
      for (let i = 0; i < v.length; i++) cols[i]!.push(v[i]);
    }
    const res = await this.pool.query(INSERT_READINGS, cols);
    this.conflicts += rows.length - (res.rowCount ?? 0);
  }

  async writeSamples(rows: readonly SampleRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols: unknown[][] = Array.from({ length: 15 }, () => []);
    for (const { topic, partition, offset, sample: x } of rows) {
      const v = [
        x.gatewayId,
        x.seq,
        x.deviceId,
        x.deviceKind,
        x.bed,
        x.patientId ?? null,
        x.metric,
        x.value,
        x.unit,
        x.time,
        x.clock,
        JSON.stringify(x.quality),
        topic,
        partition,
        offset,
      ];
      for (let i = 0; i < v.length; i++) cols[i]!.push(v[i]);
    }
    const res = await this.pool.query(INSERT_SAMPLES, cols);
    this.conflicts += rows.length - (res.rowCount ?? 0);
  }

  /** Replaces the gateway's rows inside [minSeq, maxSeq] by the current view, in one transaction. */
  async gaps(view: GatewayGaps, final: boolean): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('DELETE FROM wardgate_gaps WHERE gateway_id = $1 AND first_seq >= $2 AND last_seq <= $3', [view.gatewayId, view.minSeq, view.maxSeq]);
      for (const g of view.gaps) {
        await c.query(
          `INSERT INTO wardgate_gaps (gateway_id, first_seq, last_seq, status, reason, class, final) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (gateway_id, first_seq) DO UPDATE SET last_seq = EXCLUDED.last_seq, status = EXCLUDED.status,
             reason = EXCLUDED.reason, class = EXCLUDED.class, final = EXCLUDED.final, reported_at = now()`,
          [g.gatewayId, g.firstSeq, g.lastSeq, g.status, g.reason ?? null, g.class ?? null, final],
        );
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * The holes of every gateway, computed from the two tables alone (so it holds across consumer
 * restarts, unlike the tracker's memory): a hole is announced when one gap record's
 * [firstSeq, lastSeq] covers it whole. A quick check; the tracker also splits partly announced
 * holes, reads a damaged database's `ranges` and the seq floor.
 */
export const GAPS_SQL = `
WITH seqs AS (
  SELECT gateway_id, seq FROM wardgate_readings
  UNION ALL SELECT gateway_id, seq FROM wardgate_waveform_samples
), s AS (
  SELECT gateway_id, seq, lead(seq) OVER (PARTITION BY gateway_id ORDER BY seq) AS next_seq FROM seqs
), holes AS (
  SELECT gateway_id, seq + 1 AS first_seq, next_seq - 1 AS last_seq FROM s WHERE next_seq > seq + 1
)
SELECT h.gateway_id, h.first_seq, h.last_seq,
  CASE WHEN EXISTS (
    SELECT 1 FROM wardgate_readings g
    WHERE g.gateway_id = h.gateway_id AND g.metric = 'gateway_event' AND g.extra->>'event' = 'gap'
      AND (g.extra->>'firstSeq')::bigint <= h.first_seq AND (g.extra->>'lastSeq')::bigint >= h.last_seq
  ) THEN 'announced' ELSE 'unannounced' END AS status
FROM holes h
ORDER BY h.gateway_id, h.first_seq`;
