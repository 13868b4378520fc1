/**
 * Clock honesty: warns (log, metrics, /status) when the system clock jumps (wall time moved by
 * more than the tolerance against the monotonic clock between two checks) or is not synchronised
 * (systemd's `timedatectl show -p NTPSynchronized`, which covers systemd-timesyncd and chrony).
 * The buffer never orders by wall-clock time (sequence numbers do that), so a jump changes
 * gateway timestamps, not the order of what is sent.
 */
import { execFile } from 'node:child_process';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../logger.js';

/** Asks the system whether its clock is synchronised: true/false, or null when it cannot tell. */
export function timedatectlSynchronized(signal?: AbortSignal): Promise<boolean | null> {
  return new Promise((resolve) => {
    // Without NOTIFY_SOCKET: a failing systemd tool would report ERRNO= on the service's socket.
    const { NOTIFY_SOCKET: _n, ...env } = process.env;
    execFile('timedatectl', ['show', '--property=NTPSynchronized', '--value'], { timeout: 5000, env, ...(signal ? { signal } : {}) }, (err, stdout) => {
      if (err) return resolve(null);
      const v = stdout.trim();
      resolve(v === 'yes' ? true : v === 'no' ? false : null);
    });
  });
}

export interface ClockOptions {
  log: Logger;
  registry: Registry;
  /** A wall-clock step larger than this between two checks is a jump (ms). */
  jumpToleranceMs?: number;
  now?: () => number;
  monotonic?: () => number;
  probe?: (signal: AbortSignal) => Promise<boolean | null>;
}

export interface ClockStatus {
  synchronized: boolean | null;
  jumps: number;
  lastJump: { at: string; byMs: number } | null;
}

export class ClockWatch {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly mono: () => number;
  private readonly probe: (signal: AbortSignal) => Promise<boolean | null>;
  /** Aborts a probe still running at stop (a process that outlived the gateway would hold its exit). */
  private readonly aborter = new AbortController();
  private readonly tolerance: number;
  private last: { wall: number; mono: number };
  private readonly gauges: { synced: Gauge<string>; lastJump: Gauge<string>; jumps: Counter<string> };
  status: ClockStatus = { synchronized: null, jumps: 0, lastJump: null };

  constructor(o: ClockOptions) {
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.mono = o.monotonic ?? (() => performance.now());
    this.probe = o.probe ?? timedatectlSynchronized;
    this.tolerance = o.jumpToleranceMs ?? 2000;
    this.last = { wall: this.now(), mono: this.mono() };
    const r = [o.registry];
    this.gauges = {
      synced: new Gauge({
        name: 'wardgate_clock_synchronized',
        help: 'System clock synchronised (timedatectl NTPSynchronized): 1 yes, 0 no, -1 unknown',
        registers: r,
      }),
      lastJump: new Gauge({
        name: 'wardgate_clock_last_jump_seconds',
        help: 'Size of the last wall-clock jump against the monotonic clock (seconds, signed; 0: none yet)',
        registers: r,
      }),
      jumps: new Counter({
        name: 'wardgate_clock_jumps_total',
        help: 'Wall-clock jumps seen (steps beyond the tolerance against the monotonic clock)',
        registers: r,
      }),
    };
    this.gauges.synced.set(-1);
    this.gauges.lastJump.set(0);
  }

  /** Compares wall and monotonic time since the last check; a difference beyond the tolerance is a jump. Returns its size (ms) or null. */
  check(): number | null {
    const wall = this.now();
    const mono = this.mono();
    const step = wall - this.last.wall - (mono - this.last.mono);
    this.last = { wall, mono };
    if (Math.abs(step) <= this.tolerance) return null;
    this.status = { ...this.status, jumps: this.status.jumps + 1, lastJump: { at: new Date(wall).toISOString(), byMs: Math.round(step) } };
    this.gauges.jumps.inc();
    this.gauges.lastJump.set(step / 1000);
    this.log.warn(
      { event: 'clock_jump', byMs: Math.round(step) },
      'the system clock jumped: gateway timestamps around it are off by that much (the order of readings is kept: it comes from sequence numbers)',
    );
    return step;
  }

  /** Asks whether the clock is synchronised; logs when that changes to "no". */
  async probeSync(): Promise<boolean | null> {
    if (this.aborter.signal.aborted) return this.status.synchronized;
    const s = await this.probe(this.aborter.signal);
    if (this.aborter.signal.aborted) return this.status.synchronized;
    if (s === false && this.status.synchronized !== false)
      this.log.warn(
        { event: 'clock_unsynchronized' },
        'the system clock is not synchronised (timedatectl): gateway timestamps may be wrong; check systemd-timesyncd or chrony',
      );
    else if (s === true && this.status.synchronized === false) this.log.info({ event: 'clock_synchronized' }, 'the system clock is synchronised again');
    this.status = { ...this.status, synchronized: s };
    this.gauges.synced.set(s === null ? -1 : s ? 1 : 0);
    return s;
  }

  stop(): void {
    this.aborter.abort();
  }
}
