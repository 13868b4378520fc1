/**
 * The consumer's core, between the Kafka source and the sinks: parse each message, drop
 * duplicates by (gatewayId, seq), write the new readings to every sink, then the gap view of
 * every gateway whose view changed. Returns only when every sink has stored the batch, so the
 * source commits offsets after that.
 */
import { parseMessage, type RawMessage } from './message.js';
import type { SampleRow, Sink, SinkRow } from './sinks/sink.js';
import type { GapTracker, Verdict } from './tracker.js';

/**
 * A sink failed. The message names the sink and the error code only: a database error's own
 * text can quote a value of the row (patient data), and this ends up in the log.
 */
export class SinkError extends Error {
  constructor(sink: string, err: unknown) {
    const code = (err as { code?: unknown }).code;
    super(`sink ${sink} failed (${typeof code === 'string' ? code : err instanceof Error ? err.name : 'error'})`);
    this.name = 'SinkError';
  }
}

const guarded = (s: Sink, what: () => Promise<void>) => what().catch((err: unknown) => Promise.reject(new SinkError(s.name, err)));

export type Counts = Record<Verdict | 'other_schema' | 'malformed', number>;

export class WardConsumer {
  readonly counts: Counts = { new: 0, duplicate: 0, late: 0, other_schema: 0, malformed: 0 };
  private readonly lastGaps = new Map<string, string>();

  constructor(
    private readonly tracker: GapTracker,
    private readonly sinks: readonly Sink[],
  ) {}

  /** Set once a sink failed: see handle(). */
  private failure: Error | undefined;

  /**
   * A batch. If a sink fails, the tracker has already taken the batch's seqs as seen, so a
   * re-delivery would be dropped as duplicates and never reach that sink: from then on every
   * call rejects, the source stops without committing, and the process exits non-zero. A new
   * start re-reads from the last commit (tracker seeded from the database, or empty; the primary
   * key drops what the database already has).
   */
  async handle(messages: readonly RawMessage[]): Promise<void> {
    if (this.failure) throw this.failure;
    try {
      await this.handleBatch(messages);
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.failure;
    }
  }

  private async handleBatch(messages: readonly RawMessage[]): Promise<void> {
    const rows: SinkRow[] = [];
    const samples: SampleRow[] = [];
    const touched = new Set<string>();
    for (const m of messages) {
      const p = parseMessage(m);
      if (p.kind === 'skip') {
        this.counts[p.reason]++;
        continue;
      }
      if (p.kind === 'samples') {
        for (const sample of p.samples) {
          const v = this.tracker.observe(sample.gatewayId, sample.seq);
          this.counts[v]++;
          if (v === 'duplicate') continue;
          samples.push({ topic: p.topic, partition: p.partition, offset: p.offset, sample });
          touched.add(sample.gatewayId);
        }
        continue;
      }
      const verdict = this.tracker.observe(p.reading.gatewayId, p.reading.seq, p.announcements);
      this.counts[verdict]++;
      if (verdict === 'duplicate') continue;
      rows.push({ topic: p.topic, partition: p.partition, offset: p.offset, reading: p.reading });
      touched.add(p.reading.gatewayId);
    }
    const store = async (s: Sink) => {
      await s.write(rows);
      if (samples.length > 0) await s.writeSamples(samples);
    };
    await Promise.all(this.sinks.map((s) => guarded(s, () => store(s))));
    for (const id of touched) await this.reportGaps(id, false);
  }

  private async reportGaps(gatewayId: string, final: boolean): Promise<void> {
    const view = this.tracker.gaps(gatewayId, final);
    if (!view) return;
    const text = JSON.stringify(view.gaps);
    if (!final && (this.lastGaps.get(gatewayId) ?? '[]') === text) return;
    this.lastGaps.set(gatewayId, text);
    await Promise.all(this.sinks.map((s) => guarded(s, () => s.gaps(view, final))));
  }

  /** The input ended: every gateway's gaps, holes inside the window included. */
  async finish(): Promise<void> {
    for (const id of this.tracker.gatewayIds()) await this.reportGaps(id, true);
  }
}
