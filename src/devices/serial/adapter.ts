/**
 * The serial device family: one PortWorker per configured port (bedside monitors and
 * oximeters on RS-232 / USB-serial), each running its protocol's session.
 */
import type { AdapterContext, AdapterStatus, DeviceAdapter, DeviceFamily } from '../types.js';
import { type Clock, systemClock } from './backoff.js';
import type { SerialConfig } from './config.js';
import { PortWorker } from './port-worker.js';
import { PROTOCOLS } from './protocols/index.js';

export class SerialAdapter implements DeviceAdapter {
  readonly family = 'serial';
  private workers: PortWorker[] = [];
  private running = false;

  constructor(
    private readonly config: SerialConfig,
    private readonly clock: Clock = systemClock,
  ) {}

  async start(ctx: AdapterContext): Promise<void> {
    if (this.running) throw new Error('the serial adapter is already started');
    this.running = true;
    const c = this.config;
    this.workers = c.ports.map(
      (p) =>
        new PortWorker(p, PROTOCOLS[p.protocol], {
          retryInitialMs: c.retry.initial,
          retryMaxMs: c.retry.max,
          maxPendingReadings: c.maxPendingReadings,
          clock: this.clock,
        }),
    );
    for (const w of this.workers) w.start({ ...ctx, log: ctx.log.child({ port: w.cfg.path, protocol: w.cfg.protocol }) });
    ctx.log.info({ ports: this.workers.length }, 'serial ports started');
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
