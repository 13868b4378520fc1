/**
 * Duplicates and gaps per gateway, with no I/O: what a consumer of wardgate's topics must do
 * with (gatewayId, seq).
 *
 * - A gateway's seqs are dense (1, 2, 3, ... across all classes and topics, never reused across
 *   restarts) except where a gap record says readings were lost. They do NOT arrive in order:
 *   each class has its own topic, the gateway drains alarms before vitals before status before
 *   waveforms, and a topic's partitions interleave. So a hole is only a gap once it is old:
 *   `window` seqs below the highest seq seen of that gateway (or at the end, `final`).
 * - observe() says whether a seq is new, a duplicate (seen before: drop it), or late (it fills
 *   a hole that was already reported as a gap).
 * - A gap record (gateway_event, extra.event "gap") announces that readings of one class in
 *   [firstSeq, lastSeq] (or in its `ranges`, for a damaged database) were lost. It always comes
 *   after what it announces, so a hole reported unannounced can become announced later: a
 *   gap report is the current view, not an append-only log.
 * - A buffer_corrupt alarm carries `seqFloor`: the fresh database starts above it, so the seqs
 *   just below it were never handed out; a hole that ends at seqFloor is announced ('seq_floor').
 * - Holes before the first seq seen of a gateway are not gaps (the consumer started late, or
 *   retention removed them): tracking starts at the lowest seq seen.
 *
 * - A consumer restarted over a database seeds the tracker from it (seed()); otherwise it starts
 *   empty and the database's primary key alone drops what comes again.
 *
 * Memory: per gateway, the seen seqs as ranges (one per hole), the announcements, and the
 * reported holes; not one entry per reading.
 */
import { type Range, RangeSet } from './ranges.js';

/** What a gap record or a buffer_corrupt alarm says about missing seqs. */
export type Announcement = { kind: 'gap'; ranges: Range[]; reason: string; class: string } | { kind: 'seq_floor'; seqFloor: number };

export type Verdict = 'new' | 'duplicate' | 'late';

export interface Gap {
  gatewayId: string;
  firstSeq: number;
  lastSeq: number;
  /** Seqs in the hole (lastSeq - firstSeq + 1). */
  missing: number;
  /** Announced by a gap record (or the seq floor of a salvaged buffer), or not. */
  status: 'announced' | 'unannounced';
  /** The announcing record's reason (eviction cause, 'corrupt', ...) or 'seq_floor'. */
  reason?: string;
  /** The class the gap record names (alarm, vital, status, waveform). */
  class?: string;
}

/** One gateway's current gap view: the seqs tracked and the holes in them. */
export interface GatewayGaps {
  gatewayId: string;
  /** Lowest and highest seq seen. */
  minSeq: number;
  maxSeq: number;
  gaps: Gap[];
}

interface GatewayState {
  seen: RangeSet;
  gapAnnouncements: Extract<Announcement, { kind: 'gap' }>[];
  floors: Set<number>;
  /** Holes already reported (a seq landing here is 'late'). */
  reported: RangeSet;
}

export interface TrackerOptions {
  /** A hole is reported once the gateway's highest seq is more than this far above its end. */
  window: number;
}

export class GapTracker {
  private readonly gateways = new Map<string, GatewayState>();

  constructor(private readonly opts: TrackerOptions) {
    if (!Number.isSafeInteger(opts.window) || opts.window < 0) throw new RangeError('window must be an integer >= 0');
  }

  private state(gatewayId: string): GatewayState {
    let s = this.gateways.get(gatewayId);
    if (!s) {
      s = { seen: new RangeSet(), gapAnnouncements: [], floors: new Set(), reported: new RangeSet() };
      this.gateways.set(gatewayId, s);
    }
    return s;
  }

  /**
   * Records one reading. `announcements` are what the reading itself announces (a gap record):
   * they are taken only when the reading is not a duplicate.
   */
  observe(gatewayId: string, seq: number, announcements: readonly Announcement[] = []): Verdict {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError('seq must be a positive integer');
    const s = this.state(gatewayId);
    if (s.seen.has(seq)) return 'duplicate';
    s.seen.add(seq);
    for (const a of announcements) {
      if (a.kind === 'gap') s.gapAnnouncements.push(a);
      else s.floors.add(a.seqFloor);
    }
    return s.reported.has(seq) ? 'late' : 'new';
  }

  /**
   * Seeds a gateway with what an earlier run stored (seqs as ranges, and the announcements among
   * them), so a restarted consumer drops what it stored before and sees holes across the restart.
   */
  seed(gatewayId: string, seen: readonly Range[], announcements: readonly Announcement[]): void {
    const s = this.state(gatewayId);
    for (const [a, b] of seen) s.seen.add(a, b);
    for (const a of announcements) {
      if (a.kind === 'gap') s.gapAnnouncements.push(a);
      else s.floors.add(a.seqFloor);
    }
  }

  gatewayIds(): string[] {
    return [...this.gateways.keys()].sort();
  }

  /**
   * The gaps of one gateway: holes older than the window, or all holes when `final` (the end
   * of the input). Every hole returned counts as reported from then on (see 'late').
   */
  gaps(gatewayId: string, final = false): GatewayGaps | undefined {
    const s = this.gateways.get(gatewayId);
    if (!s || s.seen.min === undefined || s.seen.max === undefined) return undefined;
    const max = s.seen.max;
    const out: Gap[] = [];
    for (const [a, b] of s.seen.holes()) {
      if (!final && max - b <= this.opts.window) continue;
      s.reported.add(a, b);
      out.push(...this.classify(gatewayId, s, a, b));
    }
    return { gatewayId, minSeq: s.seen.min, maxSeq: max, gaps: out };
  }

  private classify(gatewayId: string, s: GatewayState, a: number, b: number): Gap[] {
    type Seg = { first: number; last: number; ann?: { reason: string; class?: string } };
    let segs: Seg[] = [{ first: a, last: b }];
    for (const ann of s.gapAnnouncements) {
      const cover = new RangeSet();
      for (const [x, y] of ann.ranges) cover.add(x, y);
      const next: Seg[] = [];
      for (const seg of segs) {
        if (seg.ann) next.push(seg);
        else
          for (const p of cover.split(seg.first, seg.last))
            next.push(p.inside ? { first: p.first, last: p.last, ann: { reason: ann.reason, class: ann.class } } : { first: p.first, last: p.last });
      }
      segs = next;
    }
    const last = segs[segs.length - 1]!;
    if (!last.ann && s.floors.has(b)) last.ann = { reason: 'seq_floor' };
    // Merge neighbours that say the same thing.
    const merged: Seg[] = [];
    for (const seg of segs) {
      const prev = merged[merged.length - 1];
      if (prev && prev.last + 1 === seg.first && prev.ann?.reason === seg.ann?.reason && prev.ann?.class === seg.ann?.class) prev.last = seg.last;
      else merged.push({ ...seg });
    }
    return merged.map((seg) => {
      const g: Gap = { gatewayId, firstSeq: seg.first, lastSeq: seg.last, missing: seg.last - seg.first + 1, status: seg.ann ? 'announced' : 'unannounced' };
      if (seg.ann) g.reason = seg.ann.reason;
      if (seg.ann?.class !== undefined) g.class = seg.ann.class;
      return g;
    });
  }
}
