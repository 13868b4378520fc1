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

/**
 * Connections served at once. A Prometheus scrape and a health probe need one or two; a client
 * that opens more and holds them (metrics.host on the ward's network) gets the rest closed at once,
 * so it cannot take memory or file descriptors from the gateway, only delay its own scrapes.
 */
export const METRICS_MAX_CONNECTIONS = 16;
/** A request's headers, and the whole request, must arrive within this (Node's defaults: 60 s and 300 s). */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

export async function startMetricsServer(registry: Registry, health: HealthSource, host: string, port: number): Promise<Server> {
  const server = createServer(
    { connectionsCheckingInterval: 5000, headersTimeout: METRICS_REQUEST_TIMEOUT_MS, requestTimeout: METRICS_REQUEST_TIMEOUT_MS },
    (req, res) => {
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
    },
  );
  server.maxConnections = METRICS_MAX_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
