/** The login limiter with an injected clock: every limit, the backoff, and bounded memory. */
import { describe, expect, it } from 'vitest';
import { ConnectionLimiter, LoginLimiter, type LoginLimits, type LoginTicket, sourceKey } from '../../src/devices/mqtt/login-limiter.js';

const LIMITS: LoginLimits = {
  perSource: { concurrent: 1, perSecond: 2, burst: 3 },
  global: { concurrent: 4, perSecond: 10, burst: 6 },
  backoff: { initial: 1000, max: 8000, forgetAfter: 60_000 },
  maxTracked: 100,
};

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const ticket = (x: LoginTicket | string): LoginTicket => {
  if (typeof x === 'string') throw new Error(`refused: ${x}`);
  return x;
};

describe('login limiter', () => {
  it('admits one check at a time per source address', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    const t = ticket(l.admit('10.0.0.1', 'ox-1'));
    expect(l.admit('10.0.0.1', 'ox-2')).toBe('source_busy');
    expect(typeof l.admit('10.0.0.2', 'ox-2')).toBe('object'); // another source is not held back
    t.done('ok');
    expect(typeof l.admit('10.0.0.1', 'ox-2')).toBe('object');
  });

  it('admits at most global.concurrent checks at once over all sources', () => {
    const l = new LoginLimiter(LIMITS, clock().now);
    const ts = [1, 2, 3, 4].map((i) => ticket(l.admit(`10.0.0.${i}`, 'u')));
    expect(l.inProgress).toBe(4);
    expect(l.admit('10.0.0.5', 'u')).toBe('global_busy');
    ts[0]!.done('ok');
    expect(typeof l.admit('10.0.0.5', 'u')).toBe('object');
  });

  it('limits the rate per source (token bucket) and refills with time', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    for (let i = 0; i < 3; i++) ticket(l.admit('10.0.0.1', 'ox-1')).done('ok'); // the burst
    expect(l.admit('10.0.0.1', 'ox-1')).toBe('source_rate');
    c.advance(499);
    expect(l.admit('10.0.0.1', 'ox-1')).toBe('source_rate');
    c.advance(1); // 2 per second: one token after 500 ms
    ticket(l.admit('10.0.0.1', 'ox-1')).done('ok');
    expect(l.admit('10.0.0.1', 'ox-1')).toBe('source_rate');
  });

  it('limits the rate over all sources', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    for (let i = 0; i < 6; i++) ticket(l.admit(`10.0.1.${i}`, 'u')).done('ok');
    expect(l.admit('10.0.1.99', 'u')).toBe('global_rate');
    c.advance(100); // 10 per second
    ticket(l.admit('10.0.1.99', 'u')).done('ok');
    expect(l.admit('10.0.1.98', 'u')).toBe('global_rate');
  });

  it('backs a source off after a failed login, doubling up to the maximum, and forgets after a success', () => {
    const c = clock();
    const l = new LoginLimiter(
      { ...LIMITS, perSource: { concurrent: 1, perSecond: 1000, burst: 1000 }, global: { concurrent: 4, perSecond: 1000, burst: 1000 } },
      c.now,
    );
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      ticket(l.admit('10.0.0.9', `guess-${i}`)).done('failed');
      waits.push(l.sourceBackoff('10.0.0.9'));
      expect(l.admit('10.0.0.9', `other-${i}`)).toBe('source_backoff');
      c.advance(waits[i]! - 1);
      expect(l.admit('10.0.0.9', `other-${i}`)).toBe('source_backoff');
      c.advance(1);
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    ticket(l.admit('10.0.0.9', 'ox-1')).done('ok');
    expect(l.sourceBackoff('10.0.0.9')).toBe(0);
    ticket(l.admit('10.0.0.9', 'ox-1')).done('failed');
    expect(l.sourceBackoff('10.0.0.9')).toBe(1000); // starts over
  });

  it('forgets failures after forgetAfter without one', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    ticket(l.admit('10.0.0.9', 'a')).done('failed');
    c.advance(1000);
    ticket(l.admit('10.0.0.9', 'b')).done('failed');
    expect(l.sourceBackoff('10.0.0.9')).toBe(2000);
    c.advance(60_001);
    ticket(l.admit('10.0.0.9', 'c')).done('failed');
    expect(l.sourceBackoff('10.0.0.9')).toBe(1000);
  });

  it('backs a username off after a failed login, except from addresses it logged in from before', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    ticket(l.admit('10.0.0.1', 'ox-1')).done('ok'); // the sensor's own address
    c.advance(1000);
    ticket(l.admit('10.6.6.6', 'ox-1')).done('failed'); // someone guessing its password
    expect(l.admit('10.6.6.7', 'ox-1')).toBe('user_backoff'); // from anywhere else: refused
    expect(typeof l.admit('10.0.0.1', 'ox-1')).toBe('object'); // the sensor is not locked out
  });

  it('an error (no check made) neither counts as a failure nor clears one', () => {
    const c = clock();
    const l = new LoginLimiter(LIMITS, c.now);
    ticket(l.admit('10.0.0.1', 'u')).done('error');
    expect(l.sourceBackoff('10.0.0.1')).toBe(0);
    expect(l.inProgress).toBe(0);
  });

  it('counts a ticket once even when done twice', () => {
    const l = new LoginLimiter(LIMITS, clock().now);
    const t = ticket(l.admit('10.0.0.1', 'u'));
    t.done('ok');
    t.done('ok');
    expect(l.inProgress).toBe(0);
    expect(typeof l.admit('10.0.0.2', 'u')).toBe('object');
  });

  it('remembers at most maxTracked sources: the oldest are forgotten', () => {
    const c = clock();
    const l = new LoginLimiter({ ...LIMITS, global: { concurrent: 4, perSecond: 1e9, burst: 1e9 } }, c.now);
    ticket(l.admit('10.9.0.0', 'first')).done('failed');
    expect(l.sourceBackoff('10.9.0.0')).toBe(1000);
    for (let i = 1; i <= 100; i++) ticket(l.admit(`10.9.${i >> 8}.${i & 255}x`, `u${i}`)).done('failed');
    expect(l.sourceBackoff('10.9.0.0')).toBe(0); // forgotten: memory stays bounded
  });

  it('keys IPv4 (also IPv4-mapped) by address and IPv6 by /64', () => {
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey(undefined)).toBe('unknown');
  });
});

describe('connection limiter', () => {
  it('allows at most perSource open connections per address; a closed one frees its slot', () => {
    const l = new ConnectionLimiter({ perSource: 2, perSecond: 100, burst: 100, maxTracked: 100 }, clock().now);
    const a = l.admit('10.0.0.1');
    const b = l.admit('10.0.0.1');
    expect(typeof a).toBe('function');
    expect(typeof b).toBe('function');
    expect(l.admit('10.0.0.1')).toBe('source_connection_limit');
    expect(typeof l.admit('10.0.0.2')).toBe('function');
    (a as () => void)();
    (a as () => void)(); // released once only
    expect(typeof l.admit('10.0.0.1')).toBe('function');
    expect(l.admit('10.0.0.1')).toBe('source_connection_limit');
  });

  it('limits new connections per address per second', () => {
    const c = clock();
    const l = new ConnectionLimiter({ perSource: 100, perSecond: 10, burst: 3, maxTracked: 100 }, c.now);
    for (let i = 0; i < 3; i++) (l.admit('10.0.0.1') as () => void)();
    expect(l.admit('10.0.0.1')).toBe('connection_rate');
    expect(typeof l.admit('10.0.0.2')).toBe('function');
    c.advance(100);
    expect(typeof l.admit('10.0.0.1')).toBe('function');
    expect(l.admit('10.0.0.1')).toBe('connection_rate');
  });
});
