/** Prometheus text endpoint (/metrics) and a health endpoint (/healthz) on loopback by default. */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSource {
  /** Healthy = ingesting and either forwarding or buffering within caps; reasons otherwise. */
  health(): { ok: boolean; detail: Record<string, unknown> };
}

export async function startMetricsServer(registry: Registry, health: HealthSource, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => { res.writeHead(200, { 'content-type': registry.contentType }); res.end(text); },
        () => { res.writeHead(500); res.end(); },
      );
      return;
    }
    if (req.url === '/healthz') {
      const h = health.health();
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
