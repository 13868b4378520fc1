/**
 * wardgate waveform batch v1 (opt-in, `kafka.waveformFormat: batch`): the waveform samples of one
 * device and metric in a lease travel as ONE Kafka message instead of one per sample. Schema:
 * docs/schemas/waveform-batch-v1.json.
 *
 * JSON rather than a binary layout: consumers of the waveform topic already parse JSON v1 (gap
 * records and non-sample readings stay JSON v1 on the same topic), values keep the device's
 * precision with no per-metric scale or sample type to agree on, and Kafka's batch compression
 * (lz4/zstd) removes most of what JSON repeats. What the batch saves is the per-reading envelope
 * (ids, codes, two ISO times, headers): a sample costs a value and, for irregular clocks, a time
 * offset.
 *
 * Nothing of a sample is lost: its seq (in `seqRuns`), value, time, and quality flags (common
 * ones in `quality`, the others per sample index in `sampleQuality`). Samples that carry `extra`
 * attributes, and readings that are not waveform samples (gap records), are not batched.
 */
import { CATALOGUE, type MetricId } from '../../catalogue.js';
import type { Reading } from '../../reading.js';
import { groupInOrder } from './group.js';

export const WAVEFORM_BATCH_SCHEMA = 'wardgate.waveform.v1';
/** At most this many samples per message, so a message stays far below Kafka's 1 MB default limit. */
export const MAX_SAMPLES_PER_MESSAGE = 1000;

export interface WaveformBatchV1 {
  schema: typeof WAVEFORM_BATCH_SCHEMA;
  gatewayId: string;
  deviceId: string;
  deviceKind: string;
  bed: string;
  patientId?: string;
  metric: MetricId;
  mdc?: { code: number; refId: string };
  unit: string;
  priority: string;
  /** Number of samples (= values.length). */
  count: number;
  seqFirst: number;
  seqLast: number;
  /** The samples' seqs as runs of consecutive numbers, ascending: [first seq, length]. */
  seqRuns: [number, number][];
  /** Whose clock the sample times are: the device's, or the gateway's receive time (device sent no time). */
  clock: 'device' | 'gateway';
  /** Time of the first sample. */
  t0: string;
  /** Regular samples: sample i is at t0 + i × periodMs. Exactly one of periodMs and offsetsMs is present. */
  periodMs?: number;
  /** Irregular samples (or a single one): sample i is at t0 + offsetsMs[i]. */
  offsetsMs?: number[];
  values: number[];
  /** Gateway receive time of the first and of the last sample. */
  gatewayTimeFirst: string;
  gatewayTimeLast: string;
  /** Quality flags every sample carries. */
  quality: string[];
  /** Quality flags only some samples carry: flag -> indices into values. */
  sampleQuality?: Record<string, number[]>;
}

/** One message's worth of a lease: a batch of samples, or a reading sent on its own (JSON v1). */
export type WaveformPart = { kind: 'batch'; batch: WaveformBatchV1; readings: Reading[] } | { kind: 'single'; reading: Reading };

/** True for readings the batch format packs: waveform samples with no extra attributes. */
function isBatchable(r: Reading): boolean {
  // A sample with no number (value-absent flag) goes as its own JSON v1 message: a batch's values are numbers.
  return CATALOGUE[r.metric].waveform === true && r.extra === undefined && Number.isFinite(r.value);
}

const sampleTime = (r: Reading): number => r.deviceTime ?? r.gatewayTime;

function seqRuns(readings: readonly Reading[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const r of readings) {
    const last = runs[runs.length - 1];
    if (last && r.seq === last[0] + last[1]) last[1]++;
    else runs.push([r.seq, 1]);
  }
  return runs;
}

/** Packs the samples of one device and metric (same clock kind), in seq order, into one batch body. */
export function toWaveformBatch(readings: readonly Reading[]): WaveformBatchV1 {
  const first = readings[0];
  if (!first) throw new TypeError('toWaveformBatch: readings must not be empty');
  const def = CATALOGUE[first.metric];
  const last = readings[readings.length - 1]!;
  const t0 = sampleTime(first);
  const offsets = readings.map((r) => sampleTime(r) - t0);
  const period = offsets.length > 1 ? offsets[1]! : undefined;
  const regular = period !== undefined && offsets.every((o, i) => o === i * period);
  const counts = new Map<string, number[]>();
  readings.forEach((r, i) => {
    for (const q of r.quality) {
      const idx = counts.get(q);
      if (idx) idx.push(i);
      else counts.set(q, [i]);
    }
  });
  const quality: string[] = [];
  const sampleQuality: Record<string, number[]> = {};
  for (const [q, idx] of counts) {
    if (idx.length === readings.length) quality.push(q);
    else sampleQuality[q] = idx;
  }
  const out: WaveformBatchV1 = {
    schema: WAVEFORM_BATCH_SCHEMA,
    gatewayId: first.gatewayId,
    deviceId: first.deviceId,
    deviceKind: first.deviceKind,
    bed: first.bed,
    metric: first.metric,
    unit: first.unit,
    priority: first.priorityClass,
    count: readings.length,
    seqFirst: first.seq,
    seqLast: last.seq,
    seqRuns: seqRuns(readings),
    clock: first.deviceTime !== undefined ? 'device' : 'gateway',
    t0: new Date(t0).toISOString(),
    values: readings.map((r) => r.value),
    gatewayTimeFirst: new Date(first.gatewayTime).toISOString(),
    gatewayTimeLast: new Date(last.gatewayTime).toISOString(),
    quality,
  };
  if (first.patientId !== undefined) out.patientId = first.patientId;
  if (def.mdcCode !== undefined && def.mdcRefId !== undefined) out.mdc = { code: def.mdcCode, refId: def.mdcRefId };
  if (regular) out.periodMs = period;
  else out.offsetsMs = offsets;
  if (Object.keys(sampleQuality).length > 0) out.sampleQuality = sampleQuality;
  return out;
}

/** The samples that may share a batch: one device in one bed for one patient, one metric, one kind of clock. */
function batchKey(r: Reading): string {
  return JSON.stringify([r.gatewayId, r.deviceId, r.bed, r.patientId ?? null, r.metric, r.deviceTime !== undefined ? 'd' : 'g']);
}

/**
 * Splits a lease's readings (seq order) into messages: the samples of each device and metric
 * become batches of at most MAX_SAMPLES_PER_MESSAGE, each placed where its first sample was, so a
 * device's messages keep the order of their first readings; every other reading stays on its own.
 */
export function packWaveforms(readings: readonly Reading[]): WaveformPart[] {
  const groups = groupInOrder(
    readings,
    (r) => (isBatchable(r) ? batchKey(r) : null),
    (g) => g.length >= MAX_SAMPLES_PER_MESSAGE,
  );
  return groups.map((g) => (isBatchable(g[0]!) ? { kind: 'batch', batch: toWaveformBatch(g), readings: g } : { kind: 'single', reading: g[0]! }));
}
