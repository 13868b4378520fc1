/**
 * A waveform batch (`kafka.waveformFormat: batch`, docs/schemas/waveform-batch-v1.json) ->
 * its samples, one per seq, so they are deduplicated and gap-tracked like any reading (a batch
 * resent after a restart may be cut differently, so batches themselves are no unit of dedupe).
 * Pure; null when the body is not a consistent batch.
 */
export const WAVEFORM_SCHEMA = 'wardgate.waveform.v1';

export interface WaveformSample {
  gatewayId: string;
  seq: number;
  deviceId: string;
  deviceKind: string;
  bed: string;
  patientId?: string;
  metric: string;
  unit: string;
  value: number;
  /** Sample time (ISO), on the clock named by `clock`. A batch has no per-sample gateway receive time. */
  time: string;
  clock: 'device' | 'gateway';
  priority: string;
  quality: string[];
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export function samplesOf(body: unknown): WaveformSample[] | null {
  if (typeof body !== 'object' || body === null) return null;
  const b = body as Record<string, unknown>;
  if (b.schema !== WAVEFORM_SCHEMA || !isStr(b.gatewayId) || !isStr(b.deviceId) || !isStr(b.deviceKind) || !isStr(b.bed) || !isStr(b.metric)) return null;
  if (typeof b.unit !== 'string' || !isStr(b.priority) || (b.clock !== 'device' && b.clock !== 'gateway') || !isStr(b.t0)) return null;
  const values = b.values;
  const runs = b.seqRuns;
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'number') || !Array.isArray(runs) || !Array.isArray(b.quality)) return null;
  const n = values.length;
  if (b.count !== n || n === 0) return null;
  const seqs: number[] = [];
  for (const run of runs) {
    if (!Array.isArray(run) || !isInt(run[0]) || !isInt(run[1]) || run[0] < 1 || run[1] < 1) return null;
    for (let i = 0; i < run[1]; i++) seqs.push(run[0] + i);
  }
  if (seqs.length !== n) return null;
  const t0 = Date.parse(b.t0);
  if (Number.isNaN(t0)) return null;
  let offset: (i: number) => number;
  if (typeof b.periodMs === 'number') {
    const p = b.periodMs;
    offset = (i) => i * p;
  } else if (Array.isArray(b.offsetsMs) && b.offsetsMs.length === n && b.offsetsMs.every((o) => typeof o === 'number')) {
    const o = b.offsetsMs as number[];
    offset = (i) => o[i]!;
  } else return null;
  const perSample = new Map<number, string[]>();
  if (b.sampleQuality !== undefined) {
    if (typeof b.sampleQuality !== 'object' || b.sampleQuality === null) return null;
    for (const [flag, idx] of Object.entries(b.sampleQuality as Record<string, unknown>)) {
      if (!Array.isArray(idx)) return null;
      for (const i of idx) {
        if (!isInt(i) || i < 0 || i >= n) return null;
        perSample.set(i, [...(perSample.get(i) ?? []), flag]);
      }
    }
  }
  const common = (b.quality as unknown[]).map(String);
  return values.map((value: number, i) => {
    const s: WaveformSample = {
      gatewayId: b.gatewayId as string,
      seq: seqs[i]!,
      deviceId: b.deviceId as string,
      deviceKind: b.deviceKind as string,
      bed: b.bed as string,
      metric: b.metric as string,
      unit: b.unit as string,
      value,
      time: new Date(t0 + offset(i)).toISOString(),
      clock: b.clock as 'device' | 'gateway',
      priority: b.priority as string,
      quality: [...common, ...(perSample.get(i) ?? [])],
    };
    if (isStr(b.patientId)) s.patientId = b.patientId;
    return s;
  });
}
