/**
 * What an unauthenticated peer may cost the gateway: every MQTT login that needs a password
 * check (scrypt, ~30 ms of CPU on a small box) must first be admitted here.
 *
 *  - per source address (IPv4 address, IPv6 /64): at most `perSource.concurrent` checks at
 *    once and `perSource.perSecond` a second (token bucket, `perSource.burst`);
 *  - globally: at most `global.concurrent` checks at once (running or waiting for the
 *    password thread) and `global.perSecond` a second;
 *  - after a failed login, its source address and its username are refused without a check
 *    for a backoff that doubles with each failure (`backoff.initial` .. `backoff.max`) and is
 *    forgotten after a success (or `backoff.forgetAfter` without failures). The username
 *    backoff does not apply to a source address that logged in as that user before: an
 *    attacker guessing a sensor's password does not lock the sensor out.
 *
 * A refused attempt costs a map lookup. Memory is bounded: at most `maxTracked` addresses and
 * usernames are remembered (the oldest are forgotten first). The clock is injected (tests).
 */

import { steadyNow } from '../../steady-clock.js';
import { TokenBucket } from './rate-limit.js';

export interface LoginLimits {
  perSource: { concurrent: number; perSecond: number; burst: number };
  global: { concurrent: number; perSecond: number; burst: number };
  backoff: { initial: number; max: number; forgetAfter: number };
  maxTracked: number;
}

const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  perSource: { concurrent: 1, perSecond: 1, burst: 3 },
  global: { concurrent: 4, perSecond: 8, burst: 40 },
  backoff: { initial: 1000, max: 60_000, forgetAfter: 15 * 60_000 },
  maxTracked: 10_000,
};

/** Why an attempt was refused before any password check. */
export type LoginRefusal = 'source_backoff' | 'user_backoff' | 'source_busy' | 'source_rate' | 'global_busy' | 'global_rate';

/**
 * An admitted check: call `done` exactly once with its outcome ('error': the check could not
 * be made, or the login failed for a reason that is no wrong password; neither kind of count).
 */
export interface LoginTicket {
  done(outcome: 'ok' | 'failed' | 'error'): void;
}

interface Failures {
  count: number;
  until: number;
  last: number;
}

interface SourceState {
  running: number;
  bucket: TokenBucket;
  seen: number;
}

/** A bounded map: setting a key moves it to the end; beyond `max` the oldest entries go. */
class Recent<V> {
  private readonly m = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    return this.m.get(k);
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

/** The address a limit applies to: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const a = address.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1]!;
  if (!a.includes(':')) return a;
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

export class LoginLimiter {
  private readonly sources: Recent<SourceState>;
  private readonly sourceFailures: Recent<Failures>;
  private readonly userFailures: Recent<Failures>;
  /** username + '\0' + source of successful logins: exempt from that user's backoff. */
  private readonly known: Recent<number>;
  private running = 0;
  private readonly global: TokenBucket;

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = steadyNow,
  ) {
    const n = limits.maxTracked;
    this.sources = new Recent(n);
    this.sourceFailures = new Recent(n);
    this.userFailures = new Recent(n);
    this.known = new Recent(n);
    this.global = new TokenBucket(limits.global.perSecond, limits.global.burst, now());
  }

  /** Checks running or waiting now (all sources). */
  get inProgress(): number {
    return this.running;
  }

  /**
   * Admits one password check of `username` from `source` (a sourceKey), or says why not.
   * Order: backoffs first (cheapest, and a blocked peer must not use up shared budget),
   * then concurrency, then rates.
   */
  admit(source: string, username: string): LoginTicket | LoginRefusal {
    const t = this.now();
    if (this.blocked(this.sourceFailures, source, t)) return 'source_backoff';
    if (this.blocked(this.userFailures, username, t) && this.known.get(`${username}\0${source}`) === undefined) return 'user_backoff';
    let s = this.sources.get(source);
    if (!s) s = { running: 0, bucket: new TokenBucket(this.limits.perSource.perSecond, this.limits.perSource.burst, t), seen: t };
    if (s.running >= this.limits.perSource.concurrent) return 'source_busy';
    if (this.running >= this.limits.global.concurrent) return 'global_busy';
    if (!s.bucket.take(t)) {
      this.sources.set(source, s);
      return 'source_rate';
    }
    if (!this.global.take(t)) {
      this.sources.set(source, s);
      return 'global_rate';
    }
    s.running++;
    s.seen = t;
    this.sources.set(source, s);
    this.running++;
    const state = s;
    let settled = false;
    return {
      done: (outcome) => {
        if (settled) return;
        settled = true;
        state.running--;
        this.running--;
        const at = this.now();
        if (outcome === 'error') return;
        if (outcome === 'ok') {
          this.sourceFailures.delete(source);
          this.userFailures.delete(username);
          this.known.set(`${username}\0${source}`, at);
        } else {
          this.fail(this.sourceFailures, source, at);
          this.fail(this.userFailures, username, at);
        }
      },
    };
  }

  /** Milliseconds until `source` may try again (0: not blocked). For tests and logs. */
  sourceBackoff(source: string): number {
    const f = this.sourceFailures.get(source);
    return f ? Math.max(0, f.until - this.now()) : 0;
  }

  private blocked(m: Recent<Failures>, key: string, t: number): boolean {
    const f = m.get(key);
    if (!f) return false;
    if (t - f.last > this.limits.backoff.forgetAfter) {
      m.delete(key);
      return false;
    }
    return t < f.until;
  }

  private fail(m: Recent<Failures>, key: string, t: number): void {
    const b = this.limits.backoff;
    const prev = m.get(key);
    const count = prev && t - prev.last <= b.forgetAfter ? prev.count + 1 : 1;
    const wait = Math.min(b.max, b.initial * 2 ** Math.min(30, count - 1));
    m.set(key, { count, until: t + wait, last: t });
  }
}

export interface ConnectionLimits {
  /** Open connections per source address. */
  perSource: number;
  /** New connections per source address per second, and the burst above it. */
  perSecond: number;
  burst: number;
  maxTracked: number;
}

interface SourceConnections {
  open: number;
  bucket: TokenBucket;
}

/**
 * Connections per source address, checked when the TCP connection is accepted (before a TLS
 * handshake or an MQTT parser costs anything): at most `perSource` open at once (one address
 * cannot take every connection slot) and `perSecond` new ones a second.
 */
export class ConnectionLimiter {
  private readonly sources: Recent<SourceConnections>;

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly now: () => number = steadyNow,
  ) {
    this.sources = new Recent(limits.maxTracked);
  }

  /** A release function for an accepted connection, or why it is refused. */
  admit(source: string): (() => void) | 'source_connection_limit' | 'connection_rate' {
    const t = this.now();
    let s = this.sources.get(source);
    if (!s) s = { open: 0, bucket: new TokenBucket(this.limits.perSecond, this.limits.burst, t) };
    if (s.open >= this.limits.perSource) return 'source_connection_limit';
    if (!s.bucket.take(t)) {
      this.sources.set(source, s);
      return 'connection_rate';
    }
    s.open++;
    this.sources.set(source, s);
    const state = s;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      state.open--;
    };
  }
}
