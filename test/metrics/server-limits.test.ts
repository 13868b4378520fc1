/**
 * The metrics endpoint against a client that opens connections and holds them (metrics.host on
 * the ward's network): the ones beyond METRICS_MAX_CONNECTIONS are closed at once, and once the
 * client lets go the endpoint answers again.
 */
import { connect, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_MAX_CONNECTIONS, startMetricsServer } from '../../src/metrics/server.js';
import { waitFor } from '../helpers/gateway.js';

const held: Socket[] = [];
afterEach(() => {
  for (const s of held.splice(0)) s.destroy();
});

describe('metrics endpoint limits', () => {
  it('connections held open beyond the limit are closed at once; the endpoint answers again after', async () => {
    const server = await startMetricsServer(new Registry(), { health: () => ({ ok: true, detail: {} }) }, '127.0.0.1', 0);
    try {
      const port = (server.address() as { port: number }).port;
      const opened = METRICS_MAX_CONNECTIONS + 24;
      let closedByServer = 0;
      for (let i = 0; i < opened; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => closedByServer++);
        held.push(s);
      }
      // Every connection past the limit, and none of the ones within it, is closed by the server.
      await waitFor(() => closedByServer >= opened - METRICS_MAX_CONNECTIONS, 5000, 'connections past the limit closed');
      await new Promise((r) => setTimeout(r, 200));
      expect(closedByServer).toBe(opened - METRICS_MAX_CONNECTIONS);

      for (const s of held.splice(0)) s.destroy();
      await waitFor(
        async () => {
          // A request that came while the server still counted the closed connections is dropped: try again.
          const r = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
          return r?.status === 200;
        },
        5000,
        '/healthz answering again',
      );
    } finally {
      for (const s of held.splice(0)) s.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
