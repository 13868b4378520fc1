/**
 * The consumer's core, between the Kafka source and the sinks: parse each message, drop
 * duplicates by (gatewayId, seq), write the new readings to every sink, then the gap view of
 * every gateway whose view changed. Returns only when every sink has stored the batch, so the
 * source commits offsets after that.
 */
import { parseMessage, type RawMessage } from './message.js';
import type { Sink, SinkRow } from './sinks/sink.js';
import type { GapTracker, Verdict } from './tracker.js';

export type Counts = Record<Verdict | 'other_schema' | 'malformed', number>;

export class WardConsumer {
  readonly counts: Counts = { new: 0, duplicate: 0, late: 0, other_schema: 0, malformed: 0 };
  private readonly lastGaps = new Map<string, string>();

  constructor(
    private readonly tracker: GapTracker,
    private readonly sinks: readonly Sink[],
  ) {}

  async handle(messages: readonly RawMessage[]): Promise<void> {
    const rows: SinkRow[] = [];
    const touched = new Set<string>();
    for (const m of messages) {
      const p = parseMessage(m);
      if (p.kind === 'skip') {
        this.counts[p.reason]++;
        continue;
      }
      const verdict = this.tracker.observe(p.reading.gatewayId, p.reading.seq, p.announcements);
      this.counts[verdict]++;
      if (verdict === 'duplicate') continue;
      rows.push({ topic: p.topic, partition: p.partition, offset: p.offset, reading: p.reading });
      touched.add(p.reading.gatewayId);
    }
    await Promise.all(this.sinks.map((s) => s.write(rows)));
    for (const id of touched) await this.reportGaps(id, false);
  }

  private async reportGaps(gatewayId: string, final: boolean): Promise<void> {
    const view = this.tracker.gaps(gatewayId, final);
    if (!view) return;
    const text = JSON.stringify(view.gaps);
    if (!final && (this.lastGaps.get(gatewayId) ?? '[]') === text) return;
    this.lastGaps.set(gatewayId, text);
    await Promise.all(this.sinks.map((s) => s.gaps(view, final)));
  }

  /** The input ended: every gateway's gaps, holes inside the window included. */
  async finish(): Promise<void> {
    for (const id of this.tracker.gatewayIds()) await this.reportGaps(id, true);
  }
}
