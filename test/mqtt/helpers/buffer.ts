/**
 * The real buffer and the real Ingest behind the MQTT adapter, in a temp dir. `refuse`
 * makes appends fail as a full disk does (BufferRefused 'disk_full') without filling one;
 * everything else is the production path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferRefused, openBuffer, type SqliteBuffer } from '../../../src/buffer/index.js';
import type { ReadingBuffer } from '../../../src/buffer/types.js';
import { generateKeyFile } from '../../../src/crypto/keys.js';
import { Ingest, type IngestOptions } from '../../../src/ingest.js';
import { silentLogger } from '../../../src/logger.js';
import { Events } from '../../../src/metrics/events.js';
import type { Reading } from '../../../src/reading.js';

export interface RealPipeline {
  buffer: SqliteBuffer;
  ingest: Ingest;
  events: Events;
  /** When true, appends are refused as on a full disk. */
  refuse: boolean;
  /** Leases and acks everything buffered, in lease order. */
  drain(): Reading[];
  close(): Promise<void>;
}

export async function realPipeline(opts: Partial<IngestOptions> = {}): Promise<RealPipeline> {
  const root = mkdtempSync(join(tmpdir(), 'wardgate-mqtt-e2e-'));
  const keyFile = join(root, 'wardgate.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const events = new Events(log);
  const buffer = await openBuffer({ dir: join(root, 'data'), keyFile, gatewayId: 'gw-mqtt', events, log });
  const p: RealPipeline = {
    buffer,
    events,
    refuse: false,
    ingest: null as unknown as Ingest,
    drain() {
      const out: Reading[] = [];
      for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
        out.push(...l.readings);
        buffer.ack(l.id);
      }
      return out;
    },
    async close() {
      await buffer.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
  const gate: ReadingBuffer = new Proxy(buffer, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return (rs: Parameters<ReadingBuffer['append']>[0]) =>
          p.refuse ? Promise.reject(new BufferRefused('disk_full', 'simulated: disk full')) : target.append(rs);
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  p.ingest = new Ingest(gate, events, { clockSkewToleranceMs: 120_000, ...opts });
  return p;
}
