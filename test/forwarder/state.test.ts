/** The connectivity state machine, backoff, drain-rate meter and rate limiter, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/forwarder/rate-limit.js';
import { backoffDelay, ConnectivityState, RateMeter } from '../../src/forwarder/state.js';

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with jitter between half and all of it', () => {
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(3, 100, 10_000, () => 0)).toBe(400);
    expect(backoffDelay(20, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(1000, 100, 10_000, () => 0)).toBe(5000);
    const samples = Array.from({ length: 200 }, () => backoffDelay(2, 100, 10_000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...samples)).toBeLessThanOrEqual(400);
    expect(new Set(samples).size).toBeGreaterThan(20);
  });
});

describe('ConnectivityState', () => {
  const mk = () => {
    const c = clock();
    return { c, s: new ConnectivityState({ offlineAfter: 2, retryInitialMs: 100, retryMaxMs: 1000, random: () => 1 }, c.now) };
  };

  it('starts offline, goes online on the first success, draining with a backlog', () => {
    const { c, s } = mk();
    expect(s.state).toBe('offline');
    expect(s.reason).toBe('starting');
    c.t += 5000;
    expect(s.offlineSeconds()).toBe(5);
    expect(s.success(false, 'connected')).toEqual({ from: 'offline', to: 'online', reason: 'connected' });
    expect(s.offlineSeconds()).toBe(0);
    expect(s.backlog(true)?.to).toBe('draining');
    expect(s.backlog(true)).toBeNull();
    expect(s.backlog(false)?.to).toBe('online');
  });

  it('degraded after one failure, offline after offlineAfter, offline duration counts from the last success', () => {
    const { c, s } = mk();
    s.success(false);
    c.t += 1000;
    const f1 = s.failure('timeout', 'send did not settle within 10000 ms');
    expect(f1.transition).toEqual({ from: 'online', to: 'degraded', reason: 'timeout: send did not settle within 10000 ms' });
    expect(f1.delayMs).toBe(100);
    c.t += 3000;
    const f2 = s.failure('transient', 'ECONNREFUSED');
    expect(f2.transition?.to).toBe('offline');
    expect(f2.delayMs).toBe(200);
    expect(s.offlineSeconds()).toBe(4);
    for (let i = 0; i < 10; i++) s.failure('transient', 'ECONNREFUSED');
    expect(s.failure('transient', 'ECONNREFUSED').delayMs).toBe(1000);
    // While failing, backlog changes do not pretend to be online.
    expect(s.backlog(false)).toBeNull();
    expect(s.success(true)?.to).toBe('draining');
    expect(s.consecutiveFailures).toBe(0);
  });

  it('a cluster that answers but refuses writes stays degraded however long it lasts; offline once it stops answering', () => {
    const { c, s } = mk();
    s.success(false);
    for (let i = 0; i < 10; i++) {
      c.t += 1000;
      const f = s.failure('refused', 'NOT_ENOUGH_REPLICAS');
      if (i === 0) expect(f.transition).toEqual({ from: 'online', to: 'degraded', reason: 'refused: NOT_ENOUGH_REPLICAS' });
      expect(s.state).toBe('degraded');
    }
    expect(s.offlineSeconds()).toBe(9); // no write taken since the first refusal
    expect(s.lastContactAt).toBe(c.t); // but Kafka answered just now
    // A refusal and a connection refused in turn (some brokers down): still degraded.
    s.failure('transient', 'ECONNREFUSED');
    expect(s.state).toBe('degraded');
    s.failure('refused', 'NOT_ENOUGH_REPLICAS');
    s.failure('transient', 'ECONNREFUSED');
    expect(s.state).toBe('degraded');
    // No broker answers any more: offline after offlineAfter failures in a row.
    s.failure('transient', 'ECONNREFUSED');
    expect(s.state).toBe('offline');
    expect(s.success(false)?.to).toBe('online');
  });

  it('a configuration error is offline at once, waits the cap, and is cleared by a success', () => {
    const { s } = mk();
    s.success(false);
    const f = s.failure('config', 'SASL authentication failed');
    expect(f.transition?.to).toBe('offline');
    expect(f.transition?.reason).toBe('config_error: SASL authentication failed');
    expect(f.delayMs).toBe(1000);
    expect(s.configError).toBe('SASL authentication failed');
    s.success(false);
    expect(s.configError).toBeNull();
  });

  it('a cluster short of brokers that still acknowledges is degraded, not an outage; a failed send takes over; whole again: online', () => {
    const { c, s } = mk();
    s.success(false);
    c.t += 1000;
    expect(s.cluster('brokers: 2 of 3', false)).toEqual({ from: 'online', to: 'degraded', reason: 'brokers: 2 of 3' });
    c.t += 5000;
    expect(s.offlineSeconds()).toBe(0);
    expect(s.success(true)).toBeNull(); // acknowledged with a backlog: still degraded, same reason
    expect(s.backlog(false)).toBeNull();
    expect(s.failure('timeout', 'send did not settle').transition?.reason).toBe('timeout: send did not settle');
    expect(s.success(false)?.reason).toBe('brokers: 2 of 3');
    expect(s.cluster(null, true)).toEqual({ from: 'degraded', to: 'draining', reason: 'backlog' });
    expect(s.cluster(null, false)).toEqual({ from: 'draining', to: 'online', reason: 'acknowledged' });
    // Before the first contact a check changes nothing.
    const fresh = mk().s;
    expect(fresh.cluster('brokers: 1 of 3', false)).toBeNull();
    expect(fresh.state).toBe('offline');
  });

  it('failures before any success are offline (never reached Kafka)', () => {
    const { s } = mk();
    expect(s.failure('transient', 'ECONNREFUSED').transition?.to).toBe('offline');
  });
});

describe('RateMeter', () => {
  it('averages the completed seconds of its window', () => {
    const c = clock(0);
    const m = new RateMeter(6, c.now);
    for (let sec = 0; sec < 5; sec++) {
      m.add(1000);
      c.t += 1000;
    }
    expect(m.rate()).toBe(1000);
    c.t += 10_000;
    expect(m.rate()).toBe(0);
  });
});

describe('RateLimiter', () => {
  it('lets one second of budget through, then the cap; a batch may overdraw and the next one waits', () => {
    const c = clock(0);
    const l = new RateLimiter({ readingsPerSecond: 1000 }, c.now);
    expect(l.waitMs()).toBe(0);
    l.take(1000, 0);
    expect(l.waitMs()).toBe(0);
    l.take(500, 0);
    expect(l.waitMs()).toBe(500);
    c.t += 250;
    expect(l.waitMs()).toBe(250);
    c.t += 250;
    expect(l.waitMs()).toBe(0);
    // The bucket holds at most one second.
    c.t += 60_000;
    l.take(1000, 0);
    l.take(1, 0);
    expect(l.waitMs()).toBe(1);
  });

  it('caps bytes/s too, and limits a batch to about a second of budget', () => {
    const c = clock(0);
    const l = new RateLimiter({ bytesPerSecond: 100_000 }, c.now);
    l.take(10, 300_000);
    expect(l.waitMs()).toBe(2000);
    expect(l.limits(2000, 1 << 20)).toEqual({ maxReadings: 2000, maxBytes: 100_000 });
    expect(new RateLimiter({ readingsPerSecond: 50 }).limits(2000, 1 << 20)).toEqual({ maxReadings: 50, maxBytes: 1 << 20 });
    const off = new RateLimiter({});
    expect(off.enabled).toBe(false);
    off.take(1e9, 1e12);
    expect(off.waitMs()).toBe(0);
  });
});
