/**
 * The reference consumer's dedupe/gap tracker (examples/consumer/tracker.ts), table-driven:
 * every row is a sequence of readings as a consumer would receive them, the verdict expected
 * for each, and the gaps expected at the end (or after the window).
 */
import { describe, expect, it } from 'vitest';
import { RangeSet } from '../../examples/consumer/ranges.js';
import { type Announcement, type Gap, GapTracker, type Verdict } from '../../examples/consumer/tracker.js';

type Step = [gateway: string, seq: number, verdict: Verdict, announces?: Announcement[]];
type G = [gateway: string, first: number, last: number, status: Gap['status'], reason?: string, cls?: string];

const gap = (first: number, last: number, cls = 'waveform', reason = 'max_bytes'): Announcement => ({
  kind: 'gap',
  ranges: [[first, last]],
  reason,
  class: cls,
});
const seqs = (gw: string, from: number, to: number, verdict: Verdict = 'new'): Step[] =>
  Array.from({ length: to - from + 1 }, (_, i) => [gw, from + i, verdict] as Step);

interface Row {
  name: string;
  window: number;
  steps: Step[];
  /** Gaps when the input ends (gaps(id, true)). */
  final: G[];
}

const ROWS: Row[] = [
  { name: 'in order, nothing missing', window: 10, steps: seqs('a', 1, 6), final: [] },
  {
    name: 'duplicates (a batch resent after a send whose fate was unknown) are dropped',
    window: 10,
    steps: [...seqs('a', 1, 4), ['a', 3, 'duplicate'], ['a', 4, 'duplicate'], ['a', 5, 'new'], ['a', 1, 'duplicate'], ['a', 5, 'duplicate']],
    final: [],
  },
  {
    name: 'out of order within the window (classes on different topics, partitions interleaved): no gap',
    window: 10,
    steps: [
      ['a', 1, 'new'],
      ['a', 4, 'new'],
      ['a', 2, 'new'],
      ['a', 6, 'new'],
      ['a', 5, 'new'],
      ['a', 3, 'new'],
      ['a', 4, 'duplicate'],
    ],
    final: [],
  },
  {
    name: 'unannounced gap',
    window: 10,
    steps: [...seqs('a', 1, 3), ...seqs('a', 6, 8)],
    final: [['a', 4, 5, 'unannounced']],
  },
  {
    name: 'announced gap: the gap record comes after what it announces',
    window: 10,
    steps: [...seqs('a', 1, 3), ...seqs('a', 7, 9), ['a', 10, 'new', [gap(4, 6)]]],
    final: [['a', 4, 6, 'announced', 'max_bytes', 'waveform']],
  },
  {
    name: "announced gap of one class inside a span where other classes' readings arrived",
    window: 10,
    steps: [...seqs('a', 1, 3), ['a', 5, 'new'], ['a', 8, 'new'], ...seqs('a', 11, 11), ['a', 14, 'new', [gap(4, 10, 'status', 'max_age')]]],
    final: [
      ['a', 4, 4, 'announced', 'max_age', 'status'],
      ['a', 6, 7, 'announced', 'max_age', 'status'],
      ['a', 9, 10, 'announced', 'max_age', 'status'],
      ['a', 12, 13, 'unannounced'],
    ],
  },
  {
    name: 'a hole only partly announced',
    window: 10,
    steps: [...seqs('a', 1, 3), ['a', 10, 'new', [gap(4, 6)]]],
    final: [
      ['a', 4, 6, 'announced', 'max_bytes', 'waveform'],
      ['a', 7, 9, 'unannounced'],
    ],
  },
  {
    name: 'a damaged database: gap ranges, and the seq floor of the fresh database',
    window: 10,
    steps: [
      ...seqs('a', 1, 5),
      ['a', 8, 'new'],
      // Fresh database: new seqs start above seqFloor (2^20 + 8); the salvage announces 6-7 as corrupt.
      ['a', 1_048_585, 'new', [{ kind: 'gap', ranges: [[6, 7]], reason: 'corrupt', class: 'vital' }]],
      ['a', 1_048_586, 'new', [{ kind: 'seq_floor', seqFloor: 1_048_584 }]],
    ],
    final: [
      ['a', 6, 7, 'announced', 'corrupt', 'vital'],
      ['a', 9, 1_048_584, 'announced', 'seq_floor'],
    ],
  },
  {
    name: 'gateway restart: seqs go on (never reused), the unacknowledged batch is resent',
    window: 10,
    steps: [...seqs('a', 1, 5), ['a', 4, 'duplicate'], ['a', 5, 'duplicate'], ...seqs('a', 6, 8)],
    final: [],
  },
  {
    name: 'gateways are independent: the same seq from two gateways is two readings',
    window: 10,
    steps: [
      ['a', 1, 'new'],
      ['b', 1, 'new'],
      ['a', 2, 'new'],
      ['b', 3, 'new'],
      ['b', 1, 'duplicate'],
      ['a', 1, 'duplicate'],
    ],
    final: [['b', 2, 2, 'unannounced']],
  },
  {
    name: 'tracking starts at the lowest seq seen: earlier seqs are no gap, and fill in when they come',
    window: 10,
    steps: [
      ['a', 100, 'new'],
      ['a', 101, 'new'],
      ['a', 98, 'new'],
      ['a', 98, 'duplicate'],
    ],
    final: [['a', 99, 99, 'unannounced']],
  },
  {
    name: 'a duplicate gap record announces nothing new and is dropped',
    window: 10,
    steps: [
      ['a', 1, 'new'],
      ['a', 5, 'new', [gap(2, 3)]],
      ['a', 5, 'duplicate', [gap(2, 4)]],
    ],
    final: [
      ['a', 2, 3, 'announced', 'max_bytes', 'waveform'],
      ['a', 4, 4, 'unannounced'],
    ],
  },
];

function toG(g: Gap): G {
  const row: G = [g.gatewayId, g.firstSeq, g.lastSeq, g.status];
  if (g.reason !== undefined) row.push(g.reason);
  if (g.class !== undefined) row.push(g.class);
  return row;
}

function finalGaps(t: GapTracker): G[] {
  return t.gatewayIds().flatMap((id) => t.gaps(id, true)!.gaps.map(toG));
}

describe('GapTracker', () => {
  it.each(ROWS)('$name', ({ window, steps, final }) => {
    const t = new GapTracker({ window });
    const verdicts = steps.map(([gw, seq, , ann]) => t.observe(gw, seq, ann));
    expect(verdicts).toEqual(steps.map((s) => s[2]));
    expect(finalGaps(t)).toEqual(final);
  });

  it('reports a hole only once it is older than the window; a seq filling a reported hole is late', () => {
    const t = new GapTracker({ window: 3 });
    for (const s of [1, 2, 4, 5, 6]) t.observe('a', s);
    expect(t.gaps('a')!.gaps).toEqual([]); // 6 - 3 = 3 is not yet more than 3 below the top
    t.observe('a', 7);
    expect(t.gaps('a')!.gaps.map(toG)).toEqual([['a', 3, 3, 'unannounced']]);
    expect(t.observe('a', 3)).toBe('late');
    expect(t.observe('a', 3)).toBe('duplicate');
    expect(t.gaps('a', true)!.gaps).toEqual([]);
  });

  it('a hole reported unannounced becomes announced when its gap record arrives later', () => {
    const t = new GapTracker({ window: 2 });
    for (const s of [1, 2, 5, 6, 7, 8]) t.observe('a', s);
    expect(t.gaps('a')!.gaps.map(toG)).toEqual([['a', 3, 4, 'unannounced']]);
    t.observe('a', 9, [gap(3, 4)]);
    expect(t.gaps('a')!.gaps.map(toG)).toEqual([['a', 3, 4, 'announced', 'max_bytes', 'waveform']]);
    expect(t.gaps('a')).toMatchObject({ minSeq: 1, maxSeq: 9 });
  });

  it('seeded with what an earlier run stored: a resend is a duplicate, holes across the restart are seen, stored gap records still announce', () => {
    const t = new GapTracker({ window: 100 });
    t.seed(
      'a',
      [
        [1, 3],
        [7, 10],
      ],
      [gap(4, 6)],
    );
    expect(t.observe('a', 9)).toBe('duplicate');
    expect(t.observe('a', 10)).toBe('duplicate');
    expect(t.observe('a', 14)).toBe('new');
    expect(t.gaps('a', true)!.gaps.map(toG)).toEqual([
      ['a', 4, 6, 'announced', 'max_bytes', 'waveform'],
      ['a', 11, 13, 'unannounced'],
    ]);
  });

  it('refuses seqs that are not positive integers', () => {
    const t = new GapTracker({ window: 1 });
    expect(() => t.observe('a', 0)).toThrow(RangeError);
    expect(() => t.observe('a', 1.5)).toThrow(RangeError);
  });
});

describe('RangeSet', () => {
  it.each([
    {
      adds: [
        [1, 1],
        [3, 3],
        [2, 2],
      ],
      ranges: [[1, 3]],
      holes: [],
    },
    {
      adds: [
        [5, 9],
        [1, 2],
        [11, 12],
      ],
      ranges: [
        [1, 2],
        [5, 9],
        [11, 12],
      ],
      holes: [
        [3, 4],
        [10, 10],
      ],
    },
    {
      adds: [
        [5, 9],
        [1, 20],
      ],
      ranges: [[1, 20]],
      holes: [],
    },
    {
      adds: [
        [1, 3],
        [7, 9],
        [4, 6],
      ],
      ranges: [[1, 9]],
      holes: [],
    },
  ])('adds $adds -> $ranges', ({ adds, ranges, holes }) => {
    const s = new RangeSet();
    for (const [a, b] of adds) s.add(a!, b);
    expect(s.ranges()).toEqual(ranges);
    expect(s.holes()).toEqual(holes);
    for (const [a, b] of ranges) expect(s.has(a!) && s.has(b!)).toBe(true);
    for (const [a, b] of holes) expect(s.has(a!) || s.has(b!)).toBe(false);
  });

  it('splits a span into the parts inside and outside', () => {
    const s = new RangeSet();
    s.add(3, 4);
    s.add(8, 8);
    expect(s.split(1, 9)).toEqual([
      { inside: false, first: 1, last: 2 },
      { inside: true, first: 3, last: 4 },
      { inside: false, first: 5, last: 7 },
      { inside: true, first: 8, last: 8 },
      { inside: false, first: 9, last: 9 },
    ]);
  });
});
