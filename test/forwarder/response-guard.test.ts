/**
 * A peer at the Kafka address that is not a broker, or misbehaves: it answers the client's first
 * request with a response size of 2 GB and then streams bytes for as long as the client reads.
 * Both clients (the real ones, through createKafkaClient) must drop the connection early: the
 * test's server counts what it could write before the client closed, and stops at 256 MB (the
 * clients without the guard read on; the shipped gateway grew to 4.2-4.5 GB so). The error says
 * why, with either client (@platformatic/kafka's own says only "Connection closed").
 */
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createKafkaClient } from '../../src/forwarder/clients.js';
import { MAX_RESPONSE_BYTES } from '../../src/forwarder/response-guard.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir, testConfig } from '../helpers/gateway.js';

const GIVE_UP = 256 * 1024 * 1024;
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

/** A server answering each connection's first bytes with a 2 GB size, then bytes; per connection, what it wrote before the client closed (at most GIVE_UP). */
async function hostilePeer(): Promise<{ port: number; written: Promise<number>[] }> {
  const written: Promise<number>[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    written.push(
      new Promise<number>((resolve) => {
        let n = 0;
        let done = false;
        const finish = (): void => {
          if (done) return;
          done = true;
          resolve(n);
          s.destroy();
        };
        s.on('error', finish);
        s.on('close', finish);
        s.once('data', () => {
          const size = Buffer.alloc(4);
          size.writeInt32BE(0x7ffffff0);
          s.write(size);
          const chunk = Buffer.alloc(1 << 20, 1);
          const pump = (): void => {
            while (!done && n < GIVE_UP) {
              n += chunk.length;
              if (!s.write(chunk)) return void s.once('drain', pump);
            }
            finish();
          };
          pump();
        });
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as { port: number }).port, written };
}

describe('Kafka responses larger than the bound', () => {
  for (const client of ['platformatic', 'kafkajs'] as const) {
    it(`${client}: a peer declaring a 2 GB response is dropped within the bound, and the connect fails`, { timeout: 60_000 }, async () => {
      const peer = await hostilePeer();
      const cfg = testConfig(`127.0.0.1:${peer.port}`, tempDir(), { kafka: { client } });
      const kafka = createKafkaClient(cfg.kafka, silentLogger());
      try {
        await expect(kafka.connect(5000)).rejects.toThrow(`a Kafka response declared ${0x7ffffff0} bytes, over the ${MAX_RESPONSE_BYTES}-byte bound`);
      } finally {
        await kafka.close(1000).catch(() => undefined);
      }
      expect(peer.written.length).toBeGreaterThan(0);
      for (const w of await Promise.all(peer.written)) expect(w).toBeLessThanOrEqual(MAX_RESPONSE_BYTES + (8 << 20));
    });
  }
});
