/**
 * Health that does not lie: /healthz and /readyz stay up through a Kafka outage (the gateway is
 * doing its job: buffering), while /status and the metrics report the outage, the age of the
 * oldest unsent reading and the buffer's fill as states against the configured thresholds.
 * Also: every metric the shipped Prometheus rules and Grafana dashboard use exists in a live
 * /metrics, and promtool accepts the rules.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { BufferStats } from '../../src/buffer/types.js';
import type { ForwarderStatus } from '../../src/forwarder/state.js';
import type { Gateway } from '../../src/gateway.js';
import { assessHealth, assessReadiness } from '../../src/metrics/health.js';
import { REPO, startTestGateway, tempDir, testConfig, waitFor } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';

const running: Gateway[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop(0);
});

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text() };
}

async function gatewayWithMetrics(health: Record<string, unknown>, buffer: Record<string, unknown> = {}): Promise<{ gw: Gateway; port: number }> {
  const port = await freePort();
  const gw = await startTestGateway(
    testConfig('127.0.0.1:1', tempDir(), {
      metrics: { port },
      health,
      buffer,
      devices: { simulator: { enabled: true, beds: 3, interval: 100, seed: 3 } },
    } as never),
  );
  running.push(gw);
  return { gw, port };
}

const status = (over: Partial<ForwarderStatus>): ForwarderStatus => ({
  state: 'online',
  reason: 'ok',
  since: 0,
  lastSuccessAt: null,
  lastFailureAt: null,
  offlineSince: null,
  consecutiveFailures: 0,
  forwarded: 0,
  inFlight: 0,
  configError: null,
  ...over,
});
const stats = (oldest: number | null): BufferStats => {
  const c = { readings: oldest === null ? 0 : 1, units: 0, bytes: 0, oldestGatewayTime: null as number | null };
  return {
    perClass: { alarm: { ...c }, vital: { ...c, oldestGatewayTime: oldest }, status: { ...c }, waveform: { ...c } },
    totalReadings: 1,
    diskBytes: 0,
    inFlight: 0,
    lastSeq: 0,
    quarantined: 0,
  } as BufferStats;
};

describe('health states', () => {
  it('each check turns to alert at its threshold, not before', () => {
    const t = { kafkaOffline: 300_000, oldestUnsent: 60_000, bufferNearCap: 0.8, certificateExpiry: 21 * 86_400_000 };
    const now = 1_000_000_000;
    const ok = assessHealth(
      { now, forwarder: status({ state: 'offline', offlineSince: now - 299_000 }), buffer: stats(now - 60_000), storedBytes: 79, maxBytes: 100 },
      t,
    );
    expect([ok.kafka_unreachable.state, ok.oldest_unsent.state, ok.buffer_near_cap.state]).toEqual(['ok', 'ok', 'ok']);
    const bad = assessHealth(
      { now, forwarder: status({ state: 'offline', offlineSince: now - 300_000 }), buffer: stats(now - 60_001), storedBytes: 80, maxBytes: 100 },
      t,
    );
    expect([bad.kafka_unreachable.state, bad.oldest_unsent.state, bad.buffer_near_cap.state]).toEqual(['alert', 'alert', 'alert']);
    expect(bad.kafka_unreachable.value).toBe(300);
    expect(bad.buffer_near_cap.value).toBe(0.8);
    const online = assessHealth({ now, forwarder: status({ state: 'online' }), buffer: stats(null), storedBytes: 0, maxBytes: 100 }, t);
    expect(online.kafka_unreachable.state).toBe('ok');
    expect(online.oldest_unsent.value).toBe(0);
  });

  it('ready only while the buffer is open, undamaged, not shedding and committing', () => {
    const ok = { open: true, damaged: false, shedding: false, commitFailure: null };
    expect(assessReadiness(ok).ok).toBe(true);
    expect(assessReadiness({ ...ok, open: false }).ok).toBe(false);
    expect(assessReadiness({ ...ok, damaged: true }).ok).toBe(false);
    expect(assessReadiness({ ...ok, shedding: true }).ok).toBe(false);
    const failing = assessReadiness({ ...ok, commitFailure: 'disk I/O error' });
    expect(failing).toEqual({ ok: false, reason: expect.stringContaining('disk I/O error') });
  });

  it('a live gateway with Kafka unreachable: /healthz and /readyz 200, /status and /metrics say Kafka is unreachable past its threshold', async () => {
    const { port } = await gatewayWithMetrics({ kafkaOffline: '1s', oldestUnsent: '1h', bufferNearCap: 0.99 });
    const first = JSON.parse((await get(port, '/status')).text);
    expect(first.health.checks.kafka_unreachable.threshold).toBe(1);
    await waitFor(
      async () => JSON.parse((await get(port, '/status')).text).health.checks.kafka_unreachable.state === 'alert',
      20_000,
      'kafka_unreachable in alert',
    );
    const s = JSON.parse((await get(port, '/status')).text);
    expect(s.health.state).toBe('alert');
    expect(s.health.checks.kafka_unreachable.value).toBeGreaterThanOrEqual(1);
    expect(s.health.checks.oldest_unsent.state).toBe('ok');
    expect(s.health.checks.buffer_near_cap.state).toBe('ok');
    expect(s.forwarder.state).toBe('offline');
    const h = await get(port, '/healthz');
    expect(h.status).toBe(200);
    const r = await get(port, '/readyz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text).detail.reason).toMatch(/buffer open/);
    await waitFor(async () => (await get(port, '/metrics')).text.includes('wardgate_health_alert{check="kafka_unreachable"} 1'), 10_000, 'the alert metric');
    const m = (await get(port, '/metrics')).text;
    expect(m).toContain('wardgate_health_alert{check="oldest_unsent"} 0');
    expect(m).toContain('wardgate_health_threshold{check="kafka_unreachable"} 1');
    expect(m).toContain('wardgate_ready 1');
    expect(m).toMatch(/wardgate_adapter_devices\{family="simulator"\} 3/);
  }, 60_000);

  it('an event-loop stall the test makes shows in wardgate_event_loop_delay_seconds', async () => {
    const { port } = await gatewayWithMetrics({ kafkaOffline: '1h', oldestUnsent: '1h', bufferNearCap: 0.99 });
    const STALL_MS = 600;
    // The gateway runs on this thread: a busy wait here stalls its event loop.
    const until = performance.now() + STALL_MS;
    while (performance.now() < until) {
      // stall
    }
    // The histogram samples every 100 ms, so the stall shows as at least STALL_MS - 100 ms (and
    // no more than the stall plus what the loaded machine added).
    await waitFor(
      async () => {
        const line = (await get(port, '/metrics')).text.split('\n').find((l) => l.startsWith('wardgate_event_loop_delay_seconds '));
        return Number(line?.split(' ')[1] ?? 0) >= (STALL_MS - 100) / 1000;
      },
      10_000,
      `wardgate_event_loop_delay_seconds to show at least ${STALL_MS - 100} ms`,
    );
  }, 60_000);

  it('readings waiting past oldestUnsent and a buffer past bufferNearCap are alerts', async () => {
    const { port } = await gatewayWithMetrics({ kafkaOffline: '1h', oldestUnsent: '1s', bufferNearCap: 0.004 }, { maxBytes: '1MiB' });
    await waitFor(
      async () => {
        const c = JSON.parse((await get(port, '/status')).text).health.checks;
        return c.oldest_unsent.state === 'alert' && c.buffer_near_cap.state === 'alert';
      },
      30_000,
      'oldest_unsent and buffer_near_cap in alert',
    );
    const s = JSON.parse((await get(port, '/status')).text);
    expect(s.health.checks.kafka_unreachable.state).toBe('ok');
    expect(s.health.checks.oldest_unsent.value).toBeGreaterThan(1);
    expect(s.ingestedTotal).toBeGreaterThan(0);
  }, 60_000);
});

describe('Prometheus rules and Grafana dashboard', () => {
  const rulesFile = join(REPO, 'docs/prometheus-rules.yaml');
  const dashboardFile = join(REPO, 'docs/grafana-dashboard.json');

  function exprsOfDashboard(node: unknown, out: string[] = []): string[] {
    if (Array.isArray(node)) for (const n of node) exprsOfDashboard(n, out);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if ((k === 'expr' || k === 'query') && typeof v === 'string') out.push(v);
        else exprsOfDashboard(v, out);
      }
    }
    return out;
  }

  it('every wardgate metric and health check they use exists in a live /metrics', async () => {
    const { port } = await gatewayWithMetrics({});
    const text = (await get(port, '/metrics')).text;
    const live = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
    const rules = parseYaml(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const ruleExprs = rules.groups.flatMap((g) => g.rules.map((r) => r.expr));
    const dashExprs = exprsOfDashboard(JSON.parse(readFileSync(dashboardFile, 'utf8')));
    expect(ruleExprs.length).toBeGreaterThanOrEqual(6);
    expect(dashExprs.length).toBeGreaterThanOrEqual(10);
    const used = new Set([...ruleExprs, ...dashExprs].flatMap((e) => [...e.matchAll(/\bwardgate_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(used.size).toBeGreaterThan(10);
    const missing = [...used].filter((n) => !live.has(n));
    expect(missing).toEqual([]);
    // Health checks named in label matchers exist as series.
    const checks = new Set([...ruleExprs, ...dashExprs].flatMap((e) => [...e.matchAll(/check="([a-z_]+)"/g)].map((m) => m[1]!)));
    for (const c of checks) expect(text).toContain(`wardgate_health_alert{check="${c}"}`);
  }, 60_000);

  it('promtool check rules accepts the rules file', () => {
    const r = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(r.error, 'promtool is installed by scripts/install-deps.sh (Debian package prometheus)').toBeUndefined();
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });
});
