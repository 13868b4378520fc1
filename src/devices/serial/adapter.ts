/**
 * The serial device family: one PortWorker per configured port (bedside monitors and
 * oximeters on RS-232 / USB-serial), each running its protocol's session.
 */
import type { AdapterContext, AdapterStatus, DeviceAdapter, DeviceFamily } from '../types.js';
import { type Clock, systemClock } from './backoff.js';
import type { SerialConfig, SerialPortConfig } from './config.js';
import { PortWorker } from './port-worker.js';
import { PROTOCOLS } from './protocols/index.js';

/**
 * The ports' periodic ticks, one timer per period for all of them: 30 IntelliVue ports ticking
 * every 250 ms on timers of their own woke the event loop 120 times a second, now 4 times. Each
 * port still ticks once per period (its first tick comes with the others', within one period of
 * its start); everything else (reopen delays, the clock) is the clock's own.
 */
export class SharedTicks implements Clock {
  private readonly groups = new Map<number, { timer: unknown; fns: Set<() => void> }>();

  constructor(private readonly clock: Clock) {}

  now(): number {
    return this.clock.now();
  }
  setTimeout(fn: () => void, ms: number): unknown {
    return this.clock.setTimeout(fn, ms);
  }
  clearTimeout(handle: unknown): void {
    this.clock.clearTimeout(handle);
  }
  setInterval(fn: () => void, ms: number): unknown {
    let g = this.groups.get(ms);
    if (!g) {
      const fns = new Set<() => void>();
      // A port stopped during a tick is skipped (a Set's iteration sees deletions).
      const tick = (): void => {
        for (const f of fns) f();
      };
      g = { fns, timer: this.clock.setInterval(tick, ms) };
      this.groups.set(ms, g);
    }
    const handle = { ms, fn };
    g.fns.add(fn);
    return handle;
  }
  clearInterval(handle: unknown): void {
    const h = handle as { ms: number; fn: () => void } | null;
    const g = h ? this.groups.get(h.ms) : undefined;
    if (!g || !h) return;
    g.fns.delete(h.fn);
    if (g.fns.size === 0) {
      this.clock.clearInterval(g.timer);
      this.groups.delete(h.ms);
    }
  }
}

export class SerialAdapter implements DeviceAdapter {
  readonly family = 'serial';
  private workers: PortWorker[] = [];
  private running = false;
  private ctx: AdapterContext | null = null;
  private readonly clock: Clock;

  constructor(
    private config: SerialConfig,
    clock: Clock = systemClock,
  ) {
    this.clock = new SharedTicks(clock);
  }

  async start(ctx: AdapterContext): Promise<void> {
    if (this.running) throw new Error('the serial adapter is already started');
    this.running = true;
    const c = this.config;
    this.ctx = ctx;
    this.workers = c.ports.map((p) => this.startWorker(p, ctx));
    ctx.log.info({ ports: this.workers.length }, 'serial ports started');
  }

  private startWorker(p: SerialPortConfig, ctx: AdapterContext): PortWorker {
    const c = this.config;
    const w = new PortWorker(p, PROTOCOLS[p.protocol], {
      retryInitialMs: c.retry.initial,
      retryMaxMs: c.retry.max,
      maxPendingReadings: c.maxPendingReadings,
      clock: this.clock,
    });
    w.start({ ...ctx, log: ctx.log.child({ port: w.cfg.path, protocol: w.cfg.protocol }) });
    return w;
  }

  /**
   * SIGHUP: stops the ports that were removed or whose settings changed and starts the new
   * ones; ports whose settings are the same keep running untouched. Returns false, changing
   * nothing, when a setting of the family (retry, bounds, enabled) changed or no port is left:
   * the adapter must then be stopped and started with `next`.
   */
  async reconfigure(next: SerialConfig): Promise<boolean> {
    const rest = (c: SerialConfig) => JSON.stringify({ ...c, ports: [] });
    const ctx = this.ctx;
    if (!this.running || !ctx || !next.enabled || next.ports.length === 0 || rest(this.config) !== rest(next)) return false;
    const key = (p: SerialPortConfig) => JSON.stringify(p);
    const wanted = new Set(next.ports.map(key));
    const keep = this.workers.filter((w) => wanted.has(key(w.cfg)));
    const gone = this.workers.filter((w) => !wanted.has(key(w.cfg)));
    await Promise.all(gone.map((w) => w.stop()));
    this.config = next;
    const kept = new Set(keep.map((w) => key(w.cfg)));
    const added = next.ports.filter((p) => !kept.has(key(p))).map((p) => this.startWorker(p, ctx));
    this.workers = [...keep, ...added];
    ctx.log.info({ ports: this.workers.length, stopped: gone.length, started: added.length }, 'serial ports reconfigured');
    return true;
  }

  async stop(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.stop()));
    this.running = false;
  }

  status(): AdapterStatus {
    if (!this.running) return { state: 'stopped', devices: 0 };
    const healthy = this.workers.filter((w) => w.healthy()).length;
    return { state: healthy === this.workers.length ? 'running' : 'degraded', devices: healthy, detail: this.workers.map((w) => w.describe()).join('; ') };
  }
}

export const serialFamily: DeviceFamily<SerialConfig> = {
  name: 'serial',
  create: (config) => (config.enabled && config.ports.length > 0 ? [new SerialAdapter(config)] : []),
};
