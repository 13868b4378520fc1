/**
 * Password checks (scrypt) on a dedicated worker thread at the lowest CPU priority, one at a
 * time, never on libuv's
 * thread pool: the pool is where the buffer's WAL fsync runs (src/buffer/wal-sync.ts), and a
 * burst of logins queued there would hold every commit, and so every PUBACK, behind them.
 * How many checks may wait here at once is bounded by the login limiter (login-limiter.ts).
 *
 * The thread starts with the first check and does not keep the process alive. If it dies, the
 * checks waiting on it fail (the login is refused as an authentication error) and the next
 * check starts a new one.
 */
import { Worker } from 'node:worker_threads';
import { parseHash } from './auth.js';

// CommonJS, evaluated in the worker: scryptSync blocks that thread only.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync, timingSafeEqual } = require('node:crypto');
// The lowest CPU priority for this thread only (on Linux the nice value is per thread): checks
// use what the event loop and the fsync leave, and cannot slow them down.
try { require('node:os').setPriority(19); } catch {}
parentPort.on('message', (m) => {
  let ok = false;
  let error;
  try {
    const key = scryptSync(Buffer.from(m.password), Buffer.from(m.salt), m.key.byteLength, { N: m.N, r: m.r, p: m.p, maxmem: m.maxmem });
    ok = timingSafeEqual(key, Buffer.from(m.key));
    key.fill(0);
  } catch (e) {
    error = String(e && e.message);
  }
  Buffer.from(m.password.buffer, m.password.byteOffset, m.password.byteLength).fill(0);
  parentPort.postMessage({ id: m.id, ok, error });
});
`;

interface Pending {
  resolve: (ok: boolean) => void;
  reject: (e: Error) => void;
}

export class PasswordThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  /** Checks completed (for tests and the bench). */
  checks = 0;

  /** Constant-time check of `password` against an encoded scrypt hash; false for a malformed hash. */
  verify = (password: Buffer | string, encoded: string): Promise<boolean> => {
    const h = parseHash(encoded);
    if (!h) return Promise.resolve(false);
    if (this.closed) return Promise.reject(new Error('password checks are stopped'));
    const w = this.thread();
    const id = this.nextId++;
    // Copies: the worker zeroes its copy of the password after use.
    const pw = new Uint8Array(typeof password === 'string' ? Buffer.from(password) : password);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage(
        {
          id,
          password: pw,
          salt: new Uint8Array(h.salt),
          key: new Uint8Array(h.key),
          N: h.N,
          r: h.r,
          p: h.p,
          maxmem: 128 * h.N * h.r * h.p + 64 * 1024 * 1024,
        },
        [pw.buffer],
      );
    });
  };

  /** Stops the thread; checks still waiting fail. */
  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('password checks are stopped'));
    if (w) await w.terminate();
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(WORKER_SOURCE, { eval: true, name: 'wardgate-password-check' });
    w.unref();
    w.on('message', (m: { id: number; ok: boolean; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.checks++;
      if (m.error !== undefined) p.reject(new Error(`password check failed: ${m.error}`));
      else p.resolve(m.ok);
    });
    const lost = (e: Error): void => {
      if (this.worker !== w) return;
      this.worker = null;
      this.failAll(e);
    };
    w.on('error', lost);
    w.on('exit', (code) => lost(new Error(`password check thread exited (${code})`)));
    this.worker = w;
    return w;
  }

  private failAll(e: Error): void {
    const ps = [...this.pending.values()];
    this.pending.clear();
    for (const p of ps) p.reject(e);
  }
}
