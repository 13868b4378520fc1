/**
 * A set of integers kept as sorted, disjoint, non-adjacent closed ranges [first, last].
 * A gateway's seqs arrive almost in order, so what the consumer has seen of one gateway is
 * one range plus a few: memory grows with the number of holes, not with the number of readings.
 */
export type Range = readonly [first: number, last: number];

export class RangeSet {
  private readonly r: [number, number][] = [];

  /** Index of the first range whose last >= n (r.length when none). */
  private lowerBound(n: number): number {
    let lo = 0;
    let hi = this.r.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.r[mid]![1] < n) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(n: number): boolean {
    const i = this.lowerBound(n);
    const x = this.r[i];
    return x !== undefined && x[0] <= n;
  }

  /** Adds [first, last], merging with overlapping or adjacent ranges. */
  add(first: number, last: number = first): void {
    if (last < first) return;
    const i = this.lowerBound(first - 1);
    let a = first;
    let b = last;
    let j = i;
    while (j < this.r.length && this.r[j]![0] <= last + 1) {
      a = Math.min(a, this.r[j]![0]);
      b = Math.max(b, this.r[j]![1]);
      j++;
    }
    this.r.splice(i, j - i, [a, b]);
  }

  get min(): number | undefined {
    return this.r[0]?.[0];
  }

  get max(): number | undefined {
    return this.r[this.r.length - 1]?.[1];
  }

  /** The ranges, ascending. */
  ranges(): Range[] {
    return this.r.map(([a, b]) => [a, b] as const);
  }

  /** The holes between min and max, ascending. */
  holes(): Range[] {
    const out: Range[] = [];
    for (let i = 1; i < this.r.length; i++) out.push([this.r[i - 1]![1] + 1, this.r[i]![0] - 1]);
    return out;
  }

  /** [first, last] cut into the parts inside this set and the parts outside it, ascending. */
  split(first: number, last: number): { inside: boolean; first: number; last: number }[] {
    const out: { inside: boolean; first: number; last: number }[] = [];
    let at = first;
    for (let i = this.lowerBound(first); i < this.r.length && at <= last; i++) {
      const [a, b] = this.r[i]!;
      if (a > last) break;
      if (a > at) out.push({ inside: false, first: at, last: a - 1 });
      const end = Math.min(b, last);
      out.push({ inside: true, first: Math.max(a, at), last: end });
      at = end + 1;
    }
    if (at <= last) out.push({ inside: false, first: at, last });
    return out;
  }
}
