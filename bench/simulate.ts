/**
 * Issue 16's done-when, measured: `wardgate simulate --beds 30 --duration 60s` with the shipped
 * command (bin/wardgate.js with the V8 flags of its first line), its CPU and bytes written in
 * steady state:
 *   node --import tsx bench/simulate.ts --brokers 127.0.0.1:9092 [--runs 3] [--baseline DIR]
 *     [--beds 30] [--duration 60] [--from 10] [--to 58] [--marks 58,120,...] [--seed 7] [--v8-flags "--flag ..."] [--config FILE] [--jit]
 *
 * Each run starts the command in a process of its own (`npm run build` first) with a fresh data
 * folder and reads, at `--from` and `--to` seconds after its start:
 *  - CPU: utime + stime of the process (/proc/PID/stat), as % of one core over the window, and
 *    the part of it on threads other than the main one (V8's compiler and GC helpers, libuv's
 *    pool): /proc/PID/task/TID/stat;
 *  - readings committed (the status file's ingestedTotal), and bytes written to the block layer
 *    per committed reading (/proc/PID/io write_bytes);
 *  - readings Kafka acknowledged meanwhile (the status file's forwarder.forwarded), printed beside
 *    the committed ones: a run whose --brokers did not answer shows 0 forwarded (Kafka down costs
 *    the gateway about a point less CPU, so such a run must not pass for one with Kafka up);
 *  - with `--marks` (seconds between --from and --to), the CPU of each interval between them as
 *    well, so that one long run shows how the figure falls as V8 finishes warming up;
 *  - with `--jit` (both trees run with --trace-opt), V8's optimising compiles in the window and
 *    how many compiled a function again (bench/jit.ts).
 * With `--baseline DIR` (another checkout, built, e.g. `git worktree add /tmp/base HEAD~1`) the
 * runs alternate between this tree and that one, and the medians are compared (the machine is
 * shared: alternate, never compare runs made at different times). `--v8-flags` adds V8 flags to
 * this tree's runs only (with `--baseline .`, the same tree with and without them); `--config` likewise
 * gives this tree's runs a YAML configuration file (`wardgate simulate --config`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readStatusFile, statusFilePath } from '../src/status-file.js';
import { followJit, type JitSummary, jitLine } from './jit.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const BROKERS = arg('brokers', '127.0.0.1:9092');
const RUNS = Number(arg('runs', '3'));
const BEDS = arg('beds', '30');
const DURATION = Number(arg('duration', '60'));
const FROM = Number(arg('from', '10'));
const TO = Number(arg('to', '58'));
const SEED = arg('seed', '7');
const BASELINE = arg('baseline', '');
const V8_FLAGS = arg('v8-flags', '').split(' ').filter(Boolean);
const CONFIG = arg('config', '');
const JIT = process.argv.includes('--jit');
const MARKS = arg('marks', '')
  .split(',')
  .filter(Boolean)
  .map(Number)
  .filter((m) => m > FROM && m < TO)
  .sort((x, y) => x - y);
const TICKS = 100; // USER_HZ on Linux
/** Clock ticks of CPU over a span of ms, as % of one core. */
const pctOfCore = (ticks: number, ms: number): number => (100 * ticks) / TICKS / (ms / 1000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  at: number;
  ticks: number;
  mainTicks: number;
  written: number;
  readings: number;
  forwarded: number;
}
interface Run {
  cpuPct: number;
  otherThreadsPct: number;
  readingsPerSecond: number;
  forwardedPerSecond: number;
  usPerReading: number;
  bytesPerReading: number;
  load: string;
  /** CPU of each interval between --from, the --marks and --to, e.g. "10-58 s 2.31 %". */
  intervals: string[];
  jit?: JitSummary;
}

/** utime + stime of a /proc stat line (fields 14 and 15; the command name may hold spaces). */
function ticksOf(statPath: string): number {
  const s = readFileSync(statPath, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

function sample(pid: number, dataDir: string): Sample {
  const io = /write_bytes:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  const st = readStatusFile(statusFilePath(dataDir));
  if (!st) throw new Error('no status file yet');
  return {
    at: performance.now(),
    ticks: ticksOf(`/proc/${pid}/stat`),
    mainTicks: ticksOf(`/proc/${pid}/task/${pid}/stat`),
    written: Number(io?.[1]),
    readings: st.ingestedTotal,
    forwarded: st.forwarder.forwarded,
  };
}

/** The V8 flags of a tree's bin/wardgate.js first line (the shipped command's). */
function shippedFlags(tree: string): string[] {
  const first = readFileSync(join(tree, 'bin/wardgate.js'), 'utf8').split('\n')[0]!;
  return first.split(/\s+/).filter((w) => w.startsWith('--'));
}

async function runOnce(tree: string, extraFlags: string[], config: string): Promise<Run> {
  const root = mkdtempSync(join(tmpdir(), 'wg-bench-simulate-'));
  const dataDir = join(root, 'data');
  const args = [
    ...shippedFlags(tree),
    ...extraFlags,
    ...(JIT ? ['--trace-opt'] : []),
    join(tree, 'bin/wardgate.js'),
    'simulate',
    '--beds',
    BEDS,
    '--duration',
    `${DURATION}s`,
    '--seed',
    SEED,
    '--brokers',
    BROKERS,
    '--data',
    dataDir,
    ...(config ? ['--config', resolve(config)] : []),
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const jit = JIT ? followJit(child.stdout) : undefined;
  if (!jit) child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const pid = child.pid!;
    const load0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const t0 = performance.now();
    const until = (s: number) => sleep(Math.max(0, t0 + s * 1000 - performance.now()));
    await until(FROM);
    const a = sample(pid, dataDir);
    const points = [{ s: FROM, at: a.at, ticks: a.ticks }];
    for (const m of MARKS) {
      await until(m);
      points.push({ s: m, at: performance.now(), ticks: ticksOf(`/proc/${pid}/stat`) });
    }
    await until(TO);
    const b = sample(pid, dataDir);
    points.push({ s: TO, at: b.at, ticks: b.ticks });
    const intervals = points.slice(1).map((p, i) => `${points[i]!.s}-${p.s} s ${pctOfCore(p.ticks - points[i]!.ticks, p.at - points[i]!.at).toFixed(2)} %`);
    const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const code = await exited;
    const jitWindow = jit?.summary(a.at, b.at);
    if (code !== 0) throw new Error(`simulate exited with ${code}: ${out.slice(-2000)}`);
    const secs = (b.at - a.at) / 1000;
    const cpu = (b.ticks - a.ticks) / TICKS;
    const n = b.readings - a.readings;
    return {
      cpuPct: pctOfCore(b.ticks - a.ticks, b.at - a.at),
      otherThreadsPct: pctOfCore(b.ticks - a.ticks - (b.mainTicks - a.mainTicks), b.at - a.at),
      readingsPerSecond: n / secs,
      forwardedPerSecond: (b.forwarded - a.forwarded) / secs,
      usPerReading: (1e6 * cpu) / Math.max(1, n),
      bytesPerReading: (b.written - a.written) / Math.max(1, n),
      load: `${load0}-${load1}`,
      intervals,
      ...(jitWindow ? { jit: jitWindow } : {}),
    };
  } finally {
    child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const trees = [{ label: 'this tree', dir: REPO, flags: V8_FLAGS, config: CONFIG }];
  if (BASELINE) trees.push({ label: `baseline ${resolve(BASELINE)}`, dir: resolve(BASELINE), flags: [], config: '' });
  for (const t of trees) if (!existsSync(join(t.dir, 'dist/src/cli/main.js'))) throw new Error(`${t.dir}: run \`npm run build\` there first`);
  if (readdirSync('/proc').length === 0) throw new Error('needs Linux /proc');
  const runs = trees.map(() => [] as Run[]);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, t] of trees.entries()) {
      const r = await runOnce(t.dir, t.flags, t.config);
      runs[k]!.push(r);
      process.stdout.write(
        `${t.label} run ${i + 1}: CPU ${r.cpuPct.toFixed(2)} % of one core (other threads ${r.otherThreadsPct.toFixed(2)} %), ` +
          `${r.readingsPerSecond.toFixed(1)} readings/s committed, ${r.forwardedPerSecond.toFixed(1)} forwarded, ${r.usPerReading.toFixed(1)} µs and ` +
          `${r.bytesPerReading.toFixed(1)} B written per reading, load ${r.load}\n`,
      );
      if (MARKS.length) process.stdout.write(`  by interval: ${r.intervals.join(', ')}\n`);
      if (r.jit) process.stdout.write(`  ${jitLine(r.jit, TO - FROM)}\n`);
    }
  }
  const stats = trees.map((t, k) => ({
    t,
    cpu: median(runs[k]!.map((r) => r.cpuPct)),
    us: median(runs[k]!.map((r) => r.usPerReading)),
    bytes: median(runs[k]!.map((r) => r.bytesPerReading)),
    forwarded: median(runs[k]!.map((r) => r.forwardedPerSecond)),
  }));
  for (const s of stats) {
    const how = `${s.t.flags.length ? ` with ${s.t.flags.join(' ')}` : ''}${s.t.config ? ` with --config ${s.t.config}` : ''}`;
    process.stdout.write(
      `${s.t.label}${how}: median CPU ${s.cpu.toFixed(2)} % of one core (goal ≤ 2 %), ${s.forwarded.toFixed(1)} readings/s forwarded, ` +
        `${s.us.toFixed(1)} µs and ${s.bytes.toFixed(1)} B written per reading (goal ≤ 150 B), ${FROM}-${TO} s, ${RUNS} run(s)\n`,
    );
  }
  if (stats.length === 2)
    process.stdout.write(
      `this tree / baseline: CPU ${(stats[0]!.cpu / stats[1]!.cpu).toFixed(3)}, µs per reading ${(stats[0]!.us / stats[1]!.us).toFixed(3)}\n`,
    );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
