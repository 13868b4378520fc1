/**
 * The whole-file integrity check, off the start-up path: `PRAGMA quick_check` on a read-only
 * connection of its own, in a worker thread, started right after the buffer opens. With a
 * 1 GB backlog on an SD card the check reads the whole file for many seconds; the gateway is
 * ready meanwhile (the WAL lets the check read a snapshot while commits go on).
 *
 * A failed check is reported (the buffer remembers it in a marker file beside the database,
 * markCheckFailed): the buffer stops leasing, the gateway stops, and the next start sees the marker,
 * runs quick_check before opening (./integrity.ts), moves the file aside and salvages what
 * still authenticates. What is checked when: docs/buffer.md, "Integrity".
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fsyncDir } from '../durable-file.js';

/** Beside the database: the background check failed; the next start checks before opening. */
export const checkFailedFile = (dbPath: string): string => `${dbPath}.check-failed`;

/**
 * Remembers that the database was found damaged (by this check, or by SQLite while running):
 * the next start runs quick_check before opening. Best effort: if it cannot be written the
 * gateway still stops on the damage, and a later failed check finds it again.
 */
export function markCheckFailed(dbPath: string, why: string): void {
  try {
    writeFileSync(checkFailedFile(dbPath), `${new Date().toISOString()} ${why}\n`, { mode: 0o600 });
    fsyncDir(dirname(dbPath));
  } catch {
    /* see above */
  }
}

/** The worker: plain CommonJS, so it runs the same under tsx, vitest and the built package. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
let db;
try {
  db = new Database(workerData.path, { readonly: true, fileMustExist: true });
  const msgs = db.pragma('quick_check', { simple: false }).map((r) => r.quick_check);
  parentPort.postMessage(msgs.length === 1 && msgs[0] === 'ok' ? { ok: true } : { ok: false, why: 'quick_check: ' + msgs.slice(0, 3).join('; ') });
} catch (e) {
  parentPort.postMessage({ ok: false, why: (e.code || 'error') + ': ' + e.message });
} finally {
  try { db && db.close(); } catch {}
}
`;

export interface CheckResult {
  ok: boolean;
  why?: string;
}

export class BackgroundCheck {
  private worker: Worker | undefined;
  /** Settles with the result (never rejects); for tests and the bench. */
  readonly done: Promise<CheckResult>;

  constructor(dbPath: string, onFailed: (why: string) => void) {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    this.done = new Promise<CheckResult>((resolve) => {
      const w = new Worker(WORKER, { eval: true, workerData: { path: dbPath, sqlite } });
      this.worker = w;
      let settled = false;
      const finish = (r: CheckResult) => {
        if (settled) return;
        settled = true;
        this.worker = undefined;
        if (!r.ok && r.why !== 'stopped') onFailed(r.why ?? 'quick_check failed');
        resolve(r);
      };
      w.once('message', (m: CheckResult) => finish(m));
      w.once('error', (e) => finish({ ok: false, why: `check worker: ${e.message}` }));
      w.once('exit', () => finish({ ok: false, why: 'stopped' }));
    });
  }

  /** Stops a check still running (at close); it reports nothing. */
  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
