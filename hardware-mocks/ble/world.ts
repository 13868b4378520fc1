/**
 * The simulated BLE world: a socat pseudo-terminal pair (noble's UART on one end, the
 * simulated controller on the other), the controller, and its wearables. `powerOff` and
 * `powerOn` take the controller away and bring it back (as unplugging a UART controller
 * does: the host's serial port closes).
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPtyPair } from '../socat.js';
import { type ControllerOptions, SimulatedController } from './controller.js';
import type { SimPeripheral } from './peripherals.js';

export interface WorldOptions extends Omit<ControllerOptions, 'ptyPath'> {
  dir?: string;
}

export class BleWorld {
  readonly dir: string;
  /** Where the host (noble) opens its UART. */
  readonly hostPort: string;
  private readonly ctrlPort: string;
  private socat: ChildProcess | null = null;
  readonly controller: SimulatedController;

  constructor(opts: WorldOptions) {
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'wardgate-ble-'));
    this.hostPort = join(this.dir, 'hci-host');
    this.ctrlPort = join(this.dir, 'hci-ctrl');
    this.controller = new SimulatedController({ ...opts, ptyPath: this.ctrlPort });
  }

  get peripherals(): SimPeripheral[] {
    return this.controller.peripherals;
  }

  /** Starts socat and the controller; resolves when both ends exist. */
  async powerOn(): Promise<void> {
    if (this.socat) return;
    const p = spawnPtyPair(this.hostPort, this.ctrlPort);
    this.socat = p;
    await new Promise<void>((resolve, reject) => {
      const poll = (): void => {
        if (p.exitCode !== null) {
          reject(new Error(`socat exited (${p.exitCode}); is socat installed?`));
          return;
        }
        if (existsSync(this.hostPort) && existsSync(this.ctrlPort)) {
          resolve();
          return;
        }
        setTimeout(poll, 10);
      };
      p.once('error', reject);
      poll();
    });
    this.controller.powerOn();
  }

  /** Stops the controller (after the host has read what was sent) and removes the pty pair. */
  async powerOff(): Promise<void> {
    await this.controller.powerOff();
    const p = this.socat;
    this.socat = null;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
  }

  async close(): Promise<void> {
    await this.powerOff();
    await this.controller.close();
  }
}
