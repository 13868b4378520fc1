/**
 * V8's optimising compiler, seen from a gateway process started with `--trace-opt` (the benches'
 * `--jit`): each "completed compiling" line on its standard output, timed on arrival, so a bench
 * can say how much compiling its measured window held and how much of it was compiling a function
 * again. A function is compiled again when its optimised code was thrown away: a deoptimisation,
 * or a full garbage collection that found none of its closures alive (V8 holds the code of a
 * closure made per call only through its live closures; README, Performance).
 */
import type { Readable } from 'node:stream';

interface Compile {
  at: number;
  /** The function's SharedFunctionInfo address (one per function in the source; may move in a compaction). */
  sfi: string;
  name: string;
  ms: number;
}

export interface JitSummary {
  compiles: number;
  ms: number;
  /** Compiles in the window of a function that had been compiled before (earlier or in the window). */
  again: number;
  againMs: number;
  /** The functions compiled most often in the window, by name ('' for an anonymous one). */
  top: string;
}

const LINE = /completed compiling 0x[0-9a-f]+ <JSFunction ([^ >]*) ?\(sfi = (0x[0-9a-f]+)\)>.* took ([\d.]+), ([\d.]+), ([\d.]+) ms/;

/** Follows `stdout` of a process started with --trace-opt; `summary(from, to)` (performance.now() times) at any moment. */
export function followJit(stdout: Readable): { summary(from: number, to: number): JitSummary } {
  const compiles: Compile[] = [];
  let rest = '';
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    const at = performance.now();
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      const m = LINE.exec(l);
      if (m) compiles.push({ at, name: m[1]!, sfi: m[2]!, ms: Number(m[3]) + Number(m[4]) + Number(m[5]) });
    }
  });
  return {
    summary(from, to) {
      const seen = new Set<string>();
      const s: JitSummary = { compiles: 0, ms: 0, again: 0, againMs: 0, top: '' };
      const byName = new Map<string, { n: number; ms: number }>();
      for (const c of compiles) {
        const before = seen.has(c.sfi);
        seen.add(c.sfi);
        if (c.at < from || c.at > to) continue;
        s.compiles++;
        s.ms += c.ms;
        if (before) {
          s.again++;
          s.againMs += c.ms;
        }
        const e = byName.get(c.name) ?? { n: 0, ms: 0 };
        e.n++;
        e.ms += c.ms;
        byName.set(c.name, e);
      }
      s.top = [...byName]
        .sort((a, b) => b[1].ms - a[1].ms)
        .slice(0, 5)
        .map(([name, e]) => `${name || '(anonymous)'} ${e.n}x ${e.ms.toFixed(0)} ms`)
        .join(', ');
      return s;
    },
  };
}

/** One line for a bench's report. */
export function jitLine(s: JitSummary, seconds: number): string {
  return (
    `V8's optimising compiler over the window: ${s.compiles} compiles, ${s.ms.toFixed(0)} ms (${((s.ms / 1000 / seconds) * 100).toFixed(2)} % of one core), ` +
    `${s.again} of them (${s.againMs.toFixed(0)} ms) of a function compiled before; most: ${s.top || 'none'}`
  );
}
