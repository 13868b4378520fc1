/**
 * The real pipeline behind an adapter under test: real SQLite buffer, real Ingest, and a
 * gate in front of them that the test can hold (submissions wait, as behind a slow disk) or
 * make refuse (as a full disk). The gate only counts what passes through it; it never
 * decides anything the adapter would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferRefused, openBuffer, type SqliteBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import type { AdapterContext, ReadingSink } from '../../src/devices/types.js';
import { Ingest } from '../../src/ingest.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading, ReadingInput } from '../../src/reading.js';

export class GateSink implements ReadingSink {
  /** Readings that reached the real pipeline and were committed. */
  accepted = 0;
  submissions = 0;
  /** Readings inside submissions that have not settled yet, now and at most. */
  heldNow = 0;
  heldMax = 0;
  refuse = false;
  private holding = false;
  private waiting: { inputs: readonly ReadingInput[]; release: () => void }[] = [];

  constructor(private readonly inner: ReadingSink) {}

  /** Submissions waiting for `release()` now (begun while held). */
  get waitingNow(): number {
    return this.waiting.length;
  }

  /** While held, submissions wait; `release()` lets them through (or refuses them when `refuse`). */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.release();
  }

  async submit(inputs: readonly ReadingInput[]): Promise<void> {
    this.submissions++;
    this.heldNow += inputs.length;
    this.heldMax = Math.max(this.heldMax, this.heldNow);
    try {
      if (this.holding) await new Promise<void>((release) => this.waiting.push({ inputs, release }));
      if (this.refuse) throw new BufferRefused('disk_full', 'test: disk full');
      await this.inner.submit(inputs);
      this.accepted += inputs.length;
    } finally {
      this.heldNow -= inputs.length;
    }
  }
}

export interface Pipeline {
  buffer: SqliteBuffer;
  events: Events;
  gate: GateSink;
  ctx: AdapterContext;
  /** Leases and acks everything buffered, in lease order. */
  drain(): Reading[];
  close(): Promise<void>;
}

export async function pipeline(): Promise<Pipeline> {
  const root = mkdtempSync(join(tmpdir(), 'wardgate-devices-'));
  const keyFile = join(root, 'wardgate.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const events = new Events(log);
  const buffer = await openBuffer({ dir: join(root, 'data'), keyFile, gatewayId: 'gw-devices', events, log, commitIntervalMs: 5 });
  const gate = new GateSink(new Ingest(buffer, events, { clockSkewToleranceMs: 10 * 365 * 86_400_000 }));
  return {
    buffer,
    events,
    gate,
    ctx: { sink: gate, events, log },
    drain() {
      const out: Reading[] = [];
      for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
        out.push(...l.readings);
        buffer.ack(l.id);
      }
      return out;
    },
    async close() {
      gate.release();
      await buffer.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Polls `cond` until true or `timeoutMs` passes; throws naming `what` on timeout (a safety net, not a measured threshold). */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 25_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
