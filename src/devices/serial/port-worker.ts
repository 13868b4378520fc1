/**
 * One serial port: open it (retrying with backoff while it is absent), run the protocol
 * session over it, hand decoded readings to the sink, and say what is happening in status
 * readings and metrics. Backpressure: while more than `maxPendingReadings` of this port's
 * readings wait for the buffer, the port is paused (no reads; the OS and the device hold
 * the rest) instead of queueing them.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import { PendingCount } from '../../pending-count.js';
import type { Extra, ReadingInput } from '../../reading.js';
import type { AdapterContext } from '../types.js';
import { backoffDelay, type Clock } from './backoff.js';
import type { SerialPortConfig } from './config.js';
import { type Link, openLink } from './link.js';
import { portStateGauge } from './metrics.js';
import type { Decoded, PortSettings, ProtocolDef, Session, SessionOutput } from './protocols/types.js';

export interface WorkerOptions {
  retryInitialMs: number;
  retryMaxMs: number;
  maxPendingReadings: number;
  clock: Clock;
}

/** The port's line settings: what the config says, else the protocol's. */
export function portSettings(cfg: SerialPortConfig, protocol: ProtocolDef): PortSettings {
  const defaults = protocol.settings;
  return {
    baudRate: cfg.baudRate ?? defaults.baudRate,
    dataBits: cfg.dataBits ?? defaults.dataBits,
    parity: cfg.parity ?? defaults.parity,
    stopBits: cfg.stopBits ?? defaults.stopBits,
    rtscts: cfg.rtscts ?? defaults.rtscts,
  };
}

/** Which device a path names now (the tty's device number and inode), or null when it is gone: one stat, no exception. */
function deviceAt(path: string): string | null {
  const stats = statSync(path, { throwIfNoEntry: false, bigint: false });
  return stats ? `${stats.rdev}:${stats.ino}` : null;
}

/** A short reason from a serialport open error ("Error: No such file or directory, cannot open /dev/x"). */
function openError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code) return code;
  const m = e instanceof Error ? e.message.replace(/^Error: /, '').split(',')[0]! : 'open failed';
  return m.slice(0, 80);
}

/** How often an open port's path is checked (a vanished or replaced device). */
const PATH_CHECK_MS = 1000;

/** Bytes decoded between two backpressure checks. */
const SLICE = 1024;

export type LinkState = 'opening' | 'open' | 'waiting' | 'stopped';

export class PortWorker {
  readonly deviceId: string;
  private readonly settings: PortSettings;
  private readonly silenceMs: number;
  private session: Session;
  private link: Link | null = null;
  state: LinkState = 'stopped';
  private attempt = 0;
  private retryTimer: unknown = null;
  private tickTimer: unknown = null;
  private lastFrameAt = 0;
  private lastRestartAt = 0;
  silent = false;
  /** Readings with the sink; stop() waits for them (every caller of stop() shares one promise). */
  private readonly pending = new PendingCount();
  private paused = false;
  /** The undecoded rest of a chunk while paused. */
  private stash: Buffer | null = null;
  private refused = 0;
  private everOpened = false;
  private lastError = '';
  /** The device the configured path named when opened (a by-id link names a new tty after a replug). */
  private openedAs: string | null = null;
  private pathCheckedAt = 0;
  private ctx: AdapterContext | null = null;

  constructor(
    readonly cfg: SerialPortConfig,
    private readonly protocol: ProtocolDef,
    private readonly opts: WorkerOptions,
  ) {
    this.deviceId = cfg.deviceId ?? `${cfg.protocol}-${basename(cfg.path)}`;
    this.settings = portSettings(cfg, protocol);
    this.silenceMs = cfg.silenceTimeout ?? protocol.silenceTimeoutMs;
    this.session = this.newSession();
  }

  private newSession(): Session {
    const options = this.cfg.line ?? this.cfg.nonin ?? this.cfg.intellivue ?? this.cfg.medibus;
    return this.protocol.createSession({ pollIntervalMs: this.cfg.pollInterval ?? this.protocol.pollIntervalMs, ...(options ? { options } : {}) });
  }

  start(ctx: AdapterContext): void {
    this.ctx = ctx;
    this.state = 'opening';
    this.gauge(0);
    void this.open();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.ctx = null;
    const c = this.opts.clock;
    if (this.retryTimer !== null) c.clearTimeout(this.retryTimer);
    if (this.tickTimer !== null) c.clearInterval(this.tickTimer);
    this.retryTimer = this.tickTimer = null;
    const link = this.link;
    this.link = null;
    if (link) for (const b of this.session.close?.() ?? []) link.write(b);
    await link?.close();
    await this.pending.whenZero();
  }

  /** What this port is doing, one line, no values. */
  describe(): string {
    const parts = [`${this.cfg.path}: ${this.state}`];
    if (this.state === 'open') parts.push(this.session.phase);
    if (this.silent) parts.push(`silent for ${Math.round((this.opts.clock.now() - this.lastFrameAt) / 1000)} s`);
    if (this.state === 'waiting' && this.lastError) parts.push(`retrying (${this.lastError})`);
    if (this.paused) parts.push('paused: buffer busy');
    if (this.refused) parts.push(`${this.refused} readings refused by the buffer`);
    return parts.join(', ');
  }

  healthy(): boolean {
    return this.state === 'open' && !this.silent;
  }

  private async open(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'opening';
    let link: Link;
    try {
      link = await openLink(this.cfg.path, this.settings, {
        data: (chunk) => this.onData(chunk),
        closed: (err) => this.onClosed(link, err),
      });
    } catch (e) {
      this.lastError = openError(e);
      this.ctx?.events.emit('device_error', { family: 'serial', reason: 'open_failed' }, 1, { port: this.cfg.path, error: this.lastError });
      this.scheduleRetry();
      return;
    }
    if ((this.state as LinkState) === 'stopped') {
      await link.close();
      return;
    }
    this.link = link;
    this.openedAs = deviceAt(this.cfg.path);
    this.state = 'open';
    this.attempt = 0;
    this.lastError = '';
    this.paused = false;
    this.stash = null;
    const now = this.opts.clock.now();
    this.lastFrameAt = now;
    this.lastRestartAt = now;
    this.silent = false;
    this.gauge(1);
    if (this.everOpened) this.statusReading('link_up');
    this.everOpened = true;
    this.session = this.newSession();
    this.handle(this.session.open(now));
    this.tickTimer ??= this.opts.clock.setInterval(() => this.onTick(), Math.min(this.protocol.tickMs, this.cfg.pollInterval ?? this.protocol.tickMs));
  }

  private onClosed(link: Link | undefined, err?: Error): void {
    if (this.link !== link || this.state === 'stopped') return;
    this.link = null;
    void link?.close();
    this.paused = false;
    this.stash = null;
    this.silent = false;
    this.gauge(0);
    this.lastError = (err as NodeJS.ErrnoException | undefined)?.code ?? 'closed';
    this.ctx?.events.emit('device_error', { family: 'serial', reason: 'disconnected' }, 1, { port: this.cfg.path });
    this.statusReading('link_down');
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.state === 'stopped') return;
    this.state = 'waiting';
    const delay = backoffDelay(this.attempt++, this.opts.retryInitialMs, this.opts.retryMaxMs);
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = null;
      void this.open();
    }, delay);
  }

  /**
   * Bytes are decoded in slices; once this port's pending readings pass the bound the port is
   * paused and the rest of the chunk waits (at most one chunk) until the buffer catches up.
   */
  private onData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    if (this.stash) {
      this.stash = Buffer.concat([this.stash, chunk]);
      return;
    }
    this.consume(chunk);
  }

  private consume(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i += SLICE) {
      if (this.paused) {
        this.stash = Buffer.from(chunk.subarray(i));
        return;
      }
      this.handle(this.session.data(chunk.subarray(i, i + SLICE), this.opts.clock.now()));
    }
  }

  private onTick(): void {
    if (this.state !== 'open') return;
    // The device went away without the tty saying so (a pty whose other end vanished): its path
    // is gone or now names another tty.
    const now = this.opts.clock.now();
    if (now - this.pathCheckedAt >= PATH_CHECK_MS) {
      this.pathCheckedAt = now;
      const resolved = deviceAt(this.cfg.path);
      if (resolved !== this.openedAs) {
        this.onClosed(this.link ?? undefined, Object.assign(new Error('the port path changed'), { code: resolved === null ? 'ENOENT' : 'path changed' }));
        return;
      }
    }
    // A port paused for the buffer is not silent: we are not reading it.
    if (this.paused) this.lastFrameAt = now;
    if (now - this.lastFrameAt >= this.silenceMs) {
      if (!this.silent) {
        this.silent = true;
        this.gauge(2);
        this.ctx?.events.emit('device_error', { family: 'serial', reason: 'silence' }, 1, { port: this.cfg.path, silenceMs: now - this.lastFrameAt });
        this.statusReading('silence');
      }
      if (now - this.lastRestartAt >= this.silenceMs) {
        // Start the protocol again from its beginning (re-association where it has one).
        this.lastRestartAt = now;
        this.session = this.newSession();
        this.handle(this.session.open(now));
        return;
      }
    }
    this.handle(this.session.tick(now));
  }

  private handle(out: SessionOutput): void {
    const ctx = this.ctx;
    if (!ctx) return;
    for (const reason of out.rejects) ctx.events.emit('frame_rejected', { family: 'serial', reason });
    if (out.frames > 0) {
      this.lastFrameAt = this.opts.clock.now();
      if (this.silent) {
        this.silent = false;
        this.gauge(1);
        this.statusReading('silence_end');
      }
    }
    // One write per output (an IntelliVue poll is two messages): each write is a syscall on the libuv pool.
    if (out.writes.length === 1) this.link?.write(out.writes[0]!);
    else if (out.writes.length > 1) this.link?.write(Buffer.concat(out.writes));
    if (out.readings.length > 0) {
      // A loop, not map with an arrow made per call: V8 keeps a function's optimised code only
      // while one of its closures lives (README, Performance).
      const inputs: ReadingInput[] = [];
      for (const d of out.readings) inputs.push(this.input(d));
      this.submit(inputs);
    }
  }

  private input(d: Decoded): ReadingInput {
    const r: ReadingInput = { deviceId: this.deviceId, deviceKind: 'serial', bed: this.cfg.bed, metric: d.metric, value: d.value };
    if (this.cfg.patient !== undefined) r.patientId = this.cfg.patient;
    if (d.unit !== undefined) r.unit = d.unit;
    if (d.deviceTime !== undefined) r.deviceTime = d.deviceTime;
    if (d.priorityClass !== undefined) r.priorityClass = d.priorityClass;
    if (d.quality !== undefined) r.quality = d.quality;
    if (d.extra !== undefined) r.extra = d.extra;
    return r;
  }

  private statusReading(event: string, extra: Extra = {}): void {
    this.submit([
      {
        ...this.input({
          metric: 'gateway_event',
          value: event === 'link_up' || event === 'silence_end' ? 1 : 0,
          unit: '1',
          priorityClass: 'status',
          extra: { event, protocol: this.cfg.protocol, ...extra },
        }),
      },
    ]);
  }

  private submit(inputs: ReadingInput[]): void {
    const ctx = this.ctx;
    if (!ctx) return;
    this.pending.add(inputs.length);
    if (!this.paused && this.pending.value > this.opts.maxPendingReadings && this.link) {
      this.paused = true;
      this.link.pause();
    }
    void this.submitted(ctx, inputs);
  }

  /** Settles once the sink has the readings: a method, not two closures per submission (JIT, as above). */
  private async submitted(ctx: AdapterContext, inputs: ReadingInput[]): Promise<void> {
    try {
      await ctx.sink.submit(inputs);
    } catch {
      // Refused (counted by the pipeline as reading_refused): a monitor cannot resend.
      this.refused += inputs.length;
    }
    this.settled(inputs.length);
  }

  private settled(n: number): void {
    this.pending.done(n);
    if (this.paused && this.pending.value <= this.opts.maxPendingReadings / 2) {
      this.paused = false;
      const rest = this.stash;
      this.stash = null;
      if (rest && this.state === 'open') this.consume(rest);
      if (!this.paused) this.link?.resume();
    }
  }

  private gauge(v: number): void {
    if (this.ctx) portStateGauge(this.ctx.events.registry).set({ port: this.cfg.path }, v);
  }
}
