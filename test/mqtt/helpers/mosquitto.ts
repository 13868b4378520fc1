/**
 * Debian's Mosquitto, started by the test on a free loopback port with a generated config
 * in a temp dir (never the system service).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../helpers/ports.js';

export const MOSQUITTO = '/usr/sbin/mosquitto';

export { freePort };

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port }, () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  port: number;
  url: string;
  /** What mosquitto wrote to stderr (its log), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  /** Lines for the listener (TLS files, require_certificate, ...). */
  listener?: string[];
  /** Global lines (password_file, ...). */
  global?: string[];
  /** Default true. */
  anonymous?: boolean;
  /** A fixed port (default: a free one). */
  port?: number;
  /** max_inflight_messages (default 200) and max_queued_messages (default 0: no limit). */
  maxInflight?: number;
  maxQueued?: number;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-mosquitto-'));
  const port = opts.port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `${[
      // Started as root in CI: keep root rather than switch to a user that cannot read temp files.
      'user root',
      `allow_anonymous ${opts.anonymous ?? true}`,
      'persistence false',
      // Sessions of clean=false clients keep everything published while they are away.
      `max_queued_messages ${opts.maxQueued ?? 0}`,
      `max_inflight_messages ${opts.maxInflight ?? 200}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(opts.global ?? []),
      `listener ${port} 127.0.0.1`,
      ...(opts.listener ?? []),
    ].join('\n')}\n`,
  );
  const proc: ChildProcess = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  while (!(await portOpen(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    log: () => stderr,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
