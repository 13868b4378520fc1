/**
 * Prometheus text endpoint (/metrics), liveness (/healthz), readiness (/readyz) and the status
 * with the health checks (/status, JSON) on loopback by default. See src/metrics/health.ts.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Alive = the process answers from its event loop (/healthz); says nothing about Kafka. */
  health(): { ok: boolean; detail: Record<string, unknown> };
  /** Ready = the buffer is open and accepting (/readyz). */
  ready?(): { ok: boolean; detail: Record<string, unknown> };
  /** The live status with the health checks (/status). */
  status?(): unknown;
}

export async function startMetricsServer(registry: Registry, health: HealthSource, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.url === '/status' && health.status) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(health.status()));
      return;
    }
    if (req.url === '/healthz' || (req.url === '/readyz' && health.ready)) {
      const h = req.url === '/healthz' ? health.health() : health.ready!();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
