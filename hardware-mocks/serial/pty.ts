/**
 * A pseudo-terminal pair made by socat, with stable paths (`link=`, as /dev/serial/by-id/...
 * gives on a Pi): `device` is the end a simulated monitor opens, `host` the end the gateway
 * opens. `unplug()` kills socat (both ends vanish, readers see EIO/hang-up); `replug()`
 * starts a new socat on the same paths.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnPtyPair } from '../socat.js';

export class PtyPair {
  readonly device: string;
  readonly host: string;
  private proc: ChildProcess | null = null;

  constructor(dir: string, name: string) {
    this.device = join(dir, `${name}.device`);
    this.host = join(dir, `${name}.host`);
  }

  get plugged(): boolean {
    return this.proc !== null;
  }

  /** Starts socat and resolves once both link paths exist. */
  async plug(): Promise<void> {
    if (this.proc) return;
    const p = spawnPtyPair(this.device, this.host);
    this.proc = p;
    const end = Date.now() + 10_000;
    while (!(existsSync(this.device) && existsSync(this.host))) {
      if (p.exitCode !== null) throw new Error(`socat exited with ${p.exitCode}`);
      if (Date.now() > end) throw new Error('socat did not create its ptys');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Kills socat and resolves once it has exited and both paths are gone. */
  async unplug(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    this.proc = null;
    if (p.exitCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
    const end = Date.now() + 5_000;
    while ((existsSync(this.device) || existsSync(this.host)) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  replug(): Promise<void> {
    return this.plug();
  }
}
