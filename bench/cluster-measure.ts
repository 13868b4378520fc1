/**
 * Shared by bench/fleet.ts and bench/rolling-restart.ts: the end-to-end invariant read with kcat
 * (streamed, so a backlog of millions of readings fits), the brokers' CPU from /proc, the size of
 * the topics' segments on disk, and the shipped command's V8 flags.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO } from '../test/helpers/gateway.js';

/** The V8 flags the installed `wardgate` runs with: those on bin/wardgate.js's first line. */
export function shippedNodeFlags(bin = join(REPO, 'bin/wardgate.js')): string[] {
  return readFileSync(bin, 'utf8')
    .split('\n', 1)[0]!
    .split(/\s+/)
    .filter((w) => w.startsWith('--'));
}

/**
 * utime + stime, in seconds, of every process whose command line contains all of `needles` (a
 * cluster's brokers: kafka.Kafka and the cluster's folder, not other clusters on the machine).
 */
export function cpuSecondsOf(...needles: string[]): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!needles.every((n) => cmd.includes(n))) continue;
      ticks += pidCpuTicks(Number(pid));
    } catch {
      // gone
    }
  }
  return ticks / 100;
}

/** utime + stime + children's (clock ticks) of one process; 0 once it is gone. */
export function pidCpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return 0;
  }
}

/** The machine's busy and total CPU time from /proc/stat (clock ticks, all cores). */
export function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

/** Bytes of segment data (.log files) in a broker's log folder for the partitions of these topics. */
export function segmentBytes(logDir: string, topics: readonly string[]): number {
  let n = 0;
  for (const e of readdirSync(logDir, { withFileTypes: true })) {
    if (!e.isDirectory() || !topics.some((t) => e.name.startsWith(`${t}-`))) continue;
    // Segment data only: Kafka preallocates its index files (10 MiB each, mostly sparse).
    for (const f of readdirSync(join(logDir, e.name))) if (f.endsWith('.log')) n += statSync(join(logDir, e.name, f)).size;
  }
  return n;
}

export interface GatewayInvariant {
  gatewayId: string;
  lastSeq: number;
  /** Distinct seqs delivered. */
  distinct: number;
  /** Deliveries beyond the first, summed. */
  duplicates: number;
  /** Seqs 1..lastSeq neither delivered nor inside a gap record's range. */
  missing: number;
  /** Seqs 1..lastSeq not delivered but announced by a gap record. */
  announcedGaps: number;
  /** First deliveries of a device (per topic) out of seq order, or a device in two partitions. */
  orderViolations: number;
}

export interface InvariantReport {
  messages: number;
  /** Messages from a gateway id not in the list. */
  strangers: number;
  gateways: GatewayInvariant[];
}

interface Acc {
  counts: Uint8Array;
  gaps: [number, number][];
  duplicates: number;
  order: number;
}

/**
 * Reads every topic with kcat (librdkafka: no wardgate code) from the beginning to the end and
 * checks, per gateway: every seq 1..lastSeq exactly once or announced by a gap record (gateway
 * event `gap` with firstSeq..lastSeq); duplicates counted; each device's first deliveries in seq
 * order within one partition per topic. Streamed line by line: `-f '%p\t%s\n'` (a JSON value has
 * no raw newline).
 */
export async function checkInvariant(bootstrap: string, topics: readonly string[], lastSeqs: ReadonlyMap<string, number>): Promise<InvariantReport> {
  const acc = new Map<string, Acc>();
  for (const [id, last] of lastSeqs) acc.set(id, { counts: new Uint8Array(last + 2), gaps: [], duplicates: 0, order: 0 });
  const lastOf = new Map<string, { partition: number; seq: number }>();
  let messages = 0;
  let strangers = 0;
  for (const topic of topics) {
    const kcat = spawn('kcat', ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%s\n'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    kcat.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => kcat.on('close', (c) => r(c)));
    for await (const line of createInterface({ input: kcat.stdout, crlfDelay: Number.POSITIVE_INFINITY })) {
      if (!line) continue;
      const tab = line.indexOf('\t');
      const partition = Number(line.slice(0, tab));
      const b = JSON.parse(line.slice(tab + 1)) as { gatewayId: string; seq: number; deviceId: string; metric: string; extra?: Record<string, unknown> };
      messages++;
      const a = acc.get(b.gatewayId);
      if (!a) {
        strangers++;
        continue;
      }
      let first = true;
      if (b.seq < a.counts.length) {
        first = a.counts[b.seq] === 0;
        if (!first) a.duplicates++;
        if (a.counts[b.seq]! < 255) a.counts[b.seq]!++;
      }
      if (b.metric === 'gateway_event' && b.extra?.event === 'gap') a.gaps.push([Number(b.extra.firstSeq), Number(b.extra.lastSeq)]);
      const k = `${b.gatewayId}|${topic}|${b.deviceId}`;
      const last = lastOf.get(k);
      if (last && last.partition !== partition) a.order++;
      else if (first && last && b.seq <= last.seq) a.order++;
      if (first) lastOf.set(k, { partition, seq: Math.max(last?.seq ?? 0, b.seq) });
    }
    const code = await exited;
    if (code !== 0) {
      if (/Unknown topic|UNKNOWN_TOPIC/i.test(err)) continue; // nothing was written to it
      throw new Error(`kcat on ${topic} exited with ${code}: ${err.slice(-500)}`);
    }
  }
  const gateways: GatewayInvariant[] = [];
  for (const [gatewayId, lastSeq] of lastSeqs) {
    const a = acc.get(gatewayId)!;
    let distinct = 0;
    let missing = 0;
    let announcedGaps = 0;
    for (let s = 1; s <= lastSeq; s++) {
      if (a.counts[s]! > 0) distinct++;
      else if (a.gaps.some(([x, y]) => s >= x && s <= y)) announcedGaps++;
      else missing++;
    }
    gateways.push({ gatewayId, lastSeq, distinct, duplicates: a.duplicates, missing, announcedGaps, orderViolations: a.order });
  }
  return { messages, strangers, gateways };
}
