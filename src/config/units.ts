/** Human-friendly sizes and durations in config and on the command line. */

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/i;
const SIZE_MULT: Record<string, number> = {
  b: 1,
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
  tb: 1e12,
  tib: 1024 ** 4,
};

/** Parses `512MiB`, `2GB`, `1000` (bytes). Returns undefined when it is not a size. */
export function parseSize(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? Math.floor(s) : undefined;
  const m = SIZE.exec(s.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * SIZE_MULT[(m[2] ?? 'b').toLowerCase()]!);
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const DUR_MULT: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `30s`, `250ms`, `2h`, `1d`, or a number of milliseconds. Returns undefined when it is not a duration. */
export function parseDuration(s: string | number): number | undefined {
  if (typeof s === 'number') return Number.isFinite(s) && s >= 0 ? s : undefined;
  const m = DURATION.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * DUR_MULT[m[2] ?? 'ms']!;
}
