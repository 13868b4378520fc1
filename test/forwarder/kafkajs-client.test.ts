/**
 * The kafkajs wrapper against a black hole (a TCP server that accepts and never answers):
 * connect and send settle within their timeouts, and the dropped producer leaves nothing
 * behind: its sockets are closed and kafkajs does not reconnect to retry in the background.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaClientError } from '../../src/forwarder/client.js';
import { KafkajsClient } from '../../src/forwarder/kafkajs-client.js';
import { silentLogger } from '../../src/logger.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface BlackHole {
  server: Server;
  port: number;
  accepted: number;
  open: Set<Socket>;
  bytesIn: number;
}

async function blackHole(): Promise<BlackHole> {
  const bh = { accepted: 0, open: new Set<Socket>(), bytesIn: 0 } as BlackHole;
  bh.server = createServer((s) => {
    bh.accepted++;
    bh.open.add(s);
    s.on('data', (d) => (bh.bytesIn += d.length));
    s.on('close', () => bh.open.delete(s));
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => bh.server.listen(0, '127.0.0.1', r));
  bh.port = (bh.server.address() as { port: number }).port;
  return bh;
}

async function waitClosed(b: BlackHole, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (b.open.size > 0 && Date.now() < end) await sleep(20);
}

let bh: BlackHole | null = null;
afterEach(async () => {
  if (!bh) return;
  for (const s of bh.open) s.destroy();
  await new Promise((r) => bh!.server.close(r));
  bh = null;
});

const client = (port: number) =>
  new KafkajsClient({
    brokers: [`127.0.0.1:${port}`],
    clientId: 'wg-test',
    compression: 'none',
    connectTimeoutMs: 600,
    // Far longer than the test may run (its timeout is 30 s): only the wrapper's own send timeout
    // can end a send here, so a send that settles at all proves that timeout fired.
    requestTimeoutMs: 600_000,
    topicPartitions: 1,
    topicReplicationFactor: 1,
    log: silentLogger(),
  });

describe('KafkajsClient against a black hole', () => {
  it("a send is ended by its own timeout (kafkajs's request timeout is far longer), and the dropped producer closes its sockets and stays dead", async () => {
    bh = await blackHole();
    const c = client(bh.port);
    // The black hole never answers and kafkajs's own request timeout is 10 min: settling at all
    // (before the test's timeout) means the 800 ms send timeout ended the send.
    const e = await c.send([{ topic: 't', messages: [{ key: 'k', value: 'v', headers: {} }] }], 800).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(KafkaClientError);
    expect((e as KafkaClientError).kind, String(e)).toBe('timeout');
    expect(c.health().connected).toBe(false);
    expect(bh.accepted).toBeGreaterThanOrEqual(1);
    expect(bh.bytesIn).toBeGreaterThan(0);
    // The killed generation's sockets are gone...
    await waitClosed(bh, 2000);
    expect(bh.open.size).toBe(0);
    // ...and kafkajs's retrier does not come back on its own (it would resend old batches later).
    const acceptedAfter = bh.accepted;
    await sleep(3000);
    expect(bh.accepted).toBe(acceptedAfter);
    expect(bh.open.size).toBe(0);
    await c.close(500);
  });

  it('repeated attempts do not accumulate connections', async () => {
    bh = await blackHole();
    const c = client(bh.port);
    for (let i = 0; i < 6; i++) {
      await c.send([{ topic: 't', messages: [{ key: 'k', value: 'v'.repeat(1000), headers: {} }] }], 300).catch(() => undefined);
    }
    await waitClosed(bh, 2000);
    expect(bh.accepted).toBeGreaterThanOrEqual(6);
    expect(bh.open.size).toBe(0);
    await c.close(500);
  });
});
