/**
 * Start-up with a big backlog (issue 16 goal 4): `node --import tsx bench/startup.ts [--gb 1] [--dir DIR]`
 *
 * Builds a buffer of about `--gb` GiB: real sealed units from the real append path (vital
 * readings of a simulated ward, deflate off), first 1/8 of the size, then the vital table
 * doubled by copying its rows under new ids until the file is big enough (the meta counters
 * and high-water mark follow; the copies would fail authentication if leased, which this
 * bench never does: start-up reads no unit). Then, in a fresh process each time and with the
 * page cache dropped before each (`echo 3 > /proc/sys/vm/drop_caches` when allowed, else
 * posix_fadvise DONTNEED on the files; printed), opens it:
 *  - integrityCheck 'at-open' (the former start: quick_check before ready), and
 *  - 'background' (the default: ready at once, quick_check on a worker thread),
 * printing the time from the openBuffer() call until it resolved (ready) and, for background,
 * until the check completed. Times exclude Node's and tsx's own start.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SimulatedMonitor } from '../hardware-mocks/ward-monitor.js';
import { DB_FILE, openBuffer } from '../src/buffer/index.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { bedName, sampleToInput } from '../src/devices/simulator/adapter.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import { normalise, type PendingReading } from '../src/reading.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};

async function child(dir: string, mode: 'at-open' | 'background'): Promise<void> {
  const t0 = process.hrtime.bigint();
  const buf = await openBuffer({
    dir,
    keyFile: join(dir, 'key.json'),
    gatewayId: 'gw-bench',
    integrityCheck: mode,
    ballastBytes: 0,
    maxBytes: 64 * 1024 ** 3,
    events: new Events(silentLogger()),
    log: silentLogger(),
  });
  const ready = Number(process.hrtime.bigint() - t0) / 1e6;
  const check = buf.backgroundCheck ? await buf.backgroundCheck.done : { ok: true };
  const checked = Number(process.hrtime.bigint() - t0) / 1e6;
  await buf.close();
  process.stdout.write(`${JSON.stringify({ ready, checked, ok: check.ok })}\n`);
}

function dropCache(dir: string): string {
  try {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3\n');
    return 'drop_caches (echo 3 > /proc/sys/vm/drop_caches)';
  } catch {
    const files = readdirSync(dir).map((f) => join(dir, f));
    const py =
      'import os,sys\nfor p in sys.argv[1:]:\n  fd=os.open(p,os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)';
    execFileSync('python3', ['-c', py, ...files]);
    return 'posix_fadvise DONTNEED on each file (drop_caches not allowed)';
  }
}

async function build(dir: string, bytes: number): Promise<void> {
  const keyFile = join(dir, 'key.json');
  generateKeyFile(keyFile);
  const buf = await openBuffer({
    dir,
    keyFile,
    gatewayId: 'gw-bench',
    synchronous: 'normal',
    compress: false,
    commitMaxReadings: 100_000,
    commitIntervalMs: 1_000_000,
    ballastBytes: 0,
    maxBytes: 64 * 1024 ** 3,
    events: new Events(silentLogger()),
    log: silentLogger(),
  });
  const mons = Array.from({ length: 30 }, (_, i) => ({ m: new SimulatedMonitor({ bed: bedName(i), icu: true, seed: i, alarmRate: 0 }), bed: bedName(i) }));
  let t = Date.now() - 86_400_000;
  const path = join(dir, DB_FILE);
  while (statSync(path).size < bytes / 8) {
    const batch: PendingReading[] = [];
    while (batch.length < 50_000) {
      t += 1000;
      for (const b of mons)
        for (const s of b.m.step(t)) batch.push(normalise(sampleToInput(s, b.bed, `dev-${b.bed}`, `PAT-${b.bed}`), { now: t, clockSkewToleranceMs: 120_000 }));
    }
    void buf.append(batch);
    await buf.flush();
  }
  await buf.close();
  const db = new Database(path);
  for (;;) {
    db.pragma('wal_checkpoint(TRUNCATE)');
    if (statSync(path).size >= bytes) break;
    const max = db.prepare('SELECT max(id + n) FROM units_vital').pluck().get() as number;
    const rows = db.prepare('SELECT count(*) FROM units_vital').pluck().get() as number;
    // At most a doubling; the last step copies only what the target still lacks.
    const take = Math.min(rows, Math.ceil((rows * (bytes - statSync(path).size)) / statSync(path).size) + 16);
    db.transaction(() => {
      db.prepare(`INSERT INTO units_vital (id, n, gw, key_id, t, body) SELECT id + ?, n, gw, key_id, t, body FROM units_vital ORDER BY id LIMIT ?`).run(
        max,
        take,
      );
      const c = db.prepare('SELECT count(*) AS units, sum(n) AS readings, sum(length(body)) AS bytes FROM units_vital').get() as {
        units: number;
        readings: number;
        bytes: number;
      };
      const set = db.prepare('UPDATE meta SET v = ? WHERE k = ?');
      set.run(c.units, 'c1.units');
      set.run(c.readings, 'c1.readings');
      set.run(c.bytes, 'c1.bytes');
      set.run(db.prepare('SELECT max(id + n - 1) FROM units_vital').pluck().get(), 'hwm');
    })();
  }
  db.close();
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3]!, process.argv[4] as 'at-open' | 'background');
  const gb = Number(arg('gb', '1'));
  const dir = mkdtempSync(join(arg('dir', tmpdir()), 'wg-startup-'));
  try {
    const tb = Date.now();
    await build(dir, gb * 1024 ** 3);
    const size = statSync(join(dir, DB_FILE)).size;
    process.stdout.write(`built a ${(size / 1024 ** 3).toFixed(2)} GiB buffer in ${((Date.now() - tb) / 1000).toFixed(0)} s (${dir})\n`);
    const rounds = Number(arg('rounds', '2'));
    for (let r = 0; r < rounds; r++) {
      for (const mode of ['at-open', 'background'] as const) {
        const how = dropCache(dir);
        const out = spawnSync(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', dir, mode], { encoding: 'utf8' });
        if (out.status !== 0) throw new Error(`child failed: ${out.stderr}`);
        const m = JSON.parse(out.stdout.trim().split('\n').pop()!) as { ready: number; checked: number; ok: boolean };
        process.stdout.write(
          `round ${r + 1} ${mode.padEnd(10)} cache: ${how}; ready after ${m.ready.toFixed(0)} ms; whole file checked after ${m.checked.toFixed(0)} ms ` +
            `(${m.ok ? 'ok' : 'FAILED'})\n`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
