/**
 * Durability as obligations: a child process appends (and drains) and prints what was
 * acknowledged; it is SIGKILLed at random points, or frozen and its files copied as a
 * power cut would leave them. Every acknowledged reading must be there exactly once.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DB_FILE, openBuffer, SEQ_FILE } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { type TestEnv, testEnv } from './helpers.js';

const WRITER = resolve(__dirname, 'fixtures', 'writer.ts');

let env: TestEnv;
beforeEach(() => {
  env = testEnv('wg-durable-');
});
afterEach(() => env.cleanup());

interface Log {
  acked: Set<number>;
  /** Leases being sent, by run and lease id. */
  sent: Map<string, number[]>;
  delivered: Set<number>;
  /** Per run, the lease sent but neither acked (K) nor released (R) yet: the writer has at most one. */
  open: Map<number, number[]>;
}

const newLog = (): Log => ({ acked: new Set(), sent: new Map(), delivered: new Set(), open: new Map() });

/** The only readings whose fate is unknown: the lease each run had open when it stopped. */
const ambiguous = (log: Log): Set<number> => new Set([...log.open.values()].flat());

/** Starts the writer; lines are parsed into `log` as they arrive (complete lines only). */
function startWriter(dir: string, start: number, drain: boolean, log: Log, run: number): { child: ChildProcess; ready: Promise<void>; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, env.keyFile, String(start), drain ? 'drain' : 'nodrain', 'full'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  let stderr = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const [kind, a, b] = line.split(' ');
      if (kind === 'ready') onReady();
      else if (kind === 'A') for (let v = Number(a); v <= Number(b); v++) log.acked.add(v);
      else if (kind === 'S') {
        const values = b ? b.split(',').map(Number) : [];
        log.sent.set(`${run}:${a}`, values);
        log.open.set(run, values);
      } else if (kind === 'K') {
        for (const v of log.sent.get(`${run}:${a}`) ?? []) log.delivered.add(v);
        log.open.delete(run);
      } else if (kind === 'R') log.open.delete(run);
    }
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  child.on('exit', (code, signal) => {
    if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) throw new Error(`writer failed (${code}): ${stderr}`);
  });
  return { child, ready, exited };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(dir: string, events = new Events(silentLogger())): Promise<{ values: number[]; seqs: number[] }> {
  const buf = await openBuffer({ dir, keyFile: env.keyFile, gatewayId: 'gw-durability', events, log: silentLogger(), ballastBytes: 0 });
  const values: number[] = [];
  const seqs: number[] = [];
  for (;;) {
    const l = buf.lease({ maxReadings: 5000, maxBytes: 1 << 30 });
    if (!l) break;
    for (const r of l.readings) {
      if (r.metric === 'gateway_event') continue;
      values.push(r.value);
      seqs.push(r.seq);
    }
    buf.ack(l.id);
  }
  await buf.close();
  return { values, seqs };
}

describe('durability', () => {
  it('SIGKILL at random points during append and drain, 20 times: every acknowledged reading is in the buffer exactly once or was delivered; none ' +
    'delivered comes back', async () => {
    const log = newLog();
    let killedDuringWork = 0;
    for (let i = 0; i < 20; i++) {
      const w = startWriter(env.dir, (i + 1) * 1_000_000, true, log, i);
      await w.ready;
      const before = log.acked.size;
      await sleep(30 + Math.random() * 250);
      w.child.kill('SIGKILL');
      await w.exited;
      if (log.acked.size > before) killedDuringWork++;
    }
    expect(killedDuringWork).toBeGreaterThanOrEqual(10); // kills landed while commits were being acknowledged
    expect(log.acked.size).toBeGreaterThan(1000);
    const { values, seqs } = await readAll(env.dir);
    const present = new Set(values);
    expect(present.size).toBe(values.length); // exactly once
    expect(new Set(seqs).size).toBe(seqs.length); // seqs never reused
    // Delivered readings may be gone; of the rest only each run's last open lease is ambiguous.
    const unknown = ambiguous(log);
    expect(unknown.size).toBeLessThanOrEqual(20 * 60);
    const missing = [...log.acked].filter((v) => !present.has(v) && !log.delivered.has(v) && !unknown.has(v));
    expect(missing).toEqual([]);
    const resurrected = [...log.delivered].filter((v) => present.has(v));
    expect(resurrected).toEqual([]);
    expect(log.delivered.size).toBeGreaterThan(0);
  }, 180_000);

  // A frozen process's files copied through the page cache: what a crash leaves, plus a torn tail.
  // (What a power cut leaves, from the recorded system calls, is power-loss.test.ts.)
  it('frozen process: copies of the files taken at random moments (torn WAL tail on half) open, pass quick_check and hold everything acknowledged ' +
    'before', async () => {
    const log = newLog();
    const w = startWriter(env.dir, 1, true, log, 0);
    await w.ready;
    const snaps: { dir: string; acked: number[]; delivered: Set<number>; open: Set<number>; torn: boolean }[] = [];
    for (let i = 0; i < 10; i++) {
      await sleep(40 + Math.random() * 150);
      w.child.kill('SIGSTOP');
      await sleep(30); // let lines already written reach us
      const dir = join(env.dir, '..', `snap-${i}`);
      mkdirSync(dir);
      // What a power cut leaves: the database and WAL as written (the -shm is memory, rebuilt on open).
      for (const f of [DB_FILE, `${DB_FILE}-wal`, SEQ_FILE]) if (existsSync(join(env.dir, f))) copyFileSync(join(env.dir, f), join(dir, f));
      const torn = i % 2 === 1;
      // A torn write of the next commit: garbage after the last complete frame.
      if (torn) appendFileSync(join(dir, `${DB_FILE}-wal`), randomBytes(1000 + Math.floor(Math.random() * 3000)));
      snaps.push({ dir, acked: [...log.acked], delivered: new Set(log.delivered), open: ambiguous(log), torn });
      w.child.kill('SIGCONT');
    }
    w.child.kill('SIGKILL');
    await w.exited;
    for (const s of snaps) {
      const events = new Events(silentLogger());
      const { values } = await readAll(s.dir, events);
      expect(await events.count('unit_quarantined')).toBe(0);
      expect(readdirSync(s.dir).some((f) => f.includes('corrupt'))).toBe(false);
      const db = new Database(join(s.dir, DB_FILE), { readonly: true });
      expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      db.close();
      const present = new Set(values);
      expect(present.size).toBe(values.length);
      expect(s.acked.length).toBeGreaterThan(0);
      const missing = s.acked.filter((v) => !present.has(v) && !s.delivered.has(v) && !s.open.has(v));
      expect(missing, `snapshot ${s.dir} torn=${s.torn}`).toEqual([]);
    }
  }, 120_000);
});
