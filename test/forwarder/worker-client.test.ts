/**
 * WorkerKafkaClient (kafka.clientThread): the configured client runs in a worker thread; calls,
 * results and error kinds cross the thread boundary unchanged, and a closed client leaves no
 * thread behind.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { KafkaClientError } from '../../src/forwarder/client.js';
import { WorkerKafkaClient } from '../../src/forwarder/worker-client.js';
import { silentLogger } from '../../src/logger.js';
import { freePort } from '../helpers/kafka.js';

let server: Server | null = null;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  if (server) await new Promise((r) => server!.close(r));
  server = null;
});

function client(port: number): WorkerKafkaClient {
  const cfg = validateConfig({ kafka: { brokers: [`127.0.0.1:${port}`], sendTimeout: 800, connectTimeout: 600 } }, 'test');
  return new WorkerKafkaClient(cfg.kafka, { logLevel: 'silent', lane: 'bulk', log: silentLogger() });
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('WorkerKafkaClient', () => {
  it('a black hole: the send times out in the worker, kind "timeout" reaches the caller; close ends the thread', async () => {
    server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const c = client((server.address() as { port: number }).port);
    // The black hole never answers: the send settles only through a timeout, and its kind crosses the thread.
    const e = await failure(c.send([{ topic: 't', messages: [{ key: 'k', value: 'v', headers: { h: '1' } }] }], 800));
    expect(e).toBeInstanceOf(KafkaClientError);
    expect((e as KafkaClientError).kind, String(e)).toBe('timeout');
    expect(c.health().connected).toBe(false);
    expect(c.health().lastError?.kind).toBe('timeout');
    await c.close(500);
    // After close the next call starts a new thread (and fails fast here: nothing listens any more).
    for (const s of sockets) s.destroy();
  });

  it('a refused connection is transient; topic checks go through the worker too', async () => {
    const port = await freePort();
    const c = client(port);
    // A generous timeout: the refusal must come back as what it is, however long the worker takes to start.
    const e = await failure(c.ensureTopics(['a', 'b'], true, 60_000));
    expect(e).toBeInstanceOf(KafkaClientError);
    expect((e as KafkaClientError).kind).toBe('transient');
    expect((e as Error).message).toMatch(/ECONNREFUSED|Connection|connect/i);
    await c.close(500);
  }, 90_000);
});
