/**
 * sd_notify as systemd sees it: the test binds the notification socket itself (a Unix datagram
 * socket, as systemd does) and reads what arrives, in the order the kernel queued it.
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DB_FILE } from '../../src/buffer/schema.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { notifySettings, ServiceNotifier } from '../../src/systemd/notify.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

interface Sock {
  bind(path: string): void;
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (e?: Error) => void): void;
  close(): void;
  on(ev: string, cb: (...a: never[]) => void): void;
}
const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram', cb?: (buf: Buffer) => void): Sock };

const open: Sock[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

/** A bound datagram socket that records every message (and, via onMessage, lets the test look at the world when one arrives). */
function notifySocket(onMessage?: (m: string) => void): { path: string; messages: string[]; mark: (m: string) => void } {
  const path = join(tempDir('wg-notify-'), 'notify.sock');
  const messages: string[] = [];
  const recv = unix.createSocket('unix_dgram', (buf) => {
    const m = buf.toString('utf8');
    messages.push(m);
    onMessage?.(m);
  });
  recv.bind(path);
  const sender = unix.createSocket('unix_dgram');
  open.push(recv, sender);
  // A marker the test sends itself: the kernel queues it between the messages sent before and after.
  const mark = (m: string): void => {
    const b = Buffer.from(m);
    let err: Error | undefined;
    sender.send(b, 0, b.length, path, (e) => (err = e));
    if (err) throw err;
  };
  return { path, messages, mark };
}

const isPing = (m: string): boolean => m === 'WATCHDOG=1';

describe('sd_notify', () => {
  it('takes the socket and half of WATCHDOG_USEC from the environment; another WATCHDOG_PID is not ours', () => {
    expect(notifySettings({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' }, 7)).toEqual({
      socket: '/run/systemd/notify',
      watchdogIntervalMs: 15000,
    });
    expect(notifySettings({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, 7).watchdogIntervalMs).toBe(15000);
    expect(notifySettings({ NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, 7).watchdogIntervalMs).toBeNull();
    expect(notifySettings({ WATCHDOG_USEC: '30000000' }, 7)).toEqual({ socket: null, watchdogIntervalMs: null });
    expect(notifySettings({ NOTIFY_SOCKET: '/x' }, 7).watchdogIntervalMs).toBeNull();
  });

  it('pings WATCHDOG=1 from the event loop: none while the loop is blocked, again once it turns', async () => {
    const s = notifySocket();
    const n = new ServiceNotifier({ env: { NOTIFY_SOCKET: s.path, WATCHDOG_USEC: '40000' }, log: silentLogger() });
    expect(n.watchdogIntervalMs).toBe(20);
    n.ready('test');
    try {
      await waitFor(() => s.messages.filter(isPing).length >= 3, 10_000, 'three watchdog pings');
      expect(s.messages[0]).toMatch(/^READY=1\n/);
      // Block this event loop for ten ping intervals; the markers go out synchronously around it.
      s.mark('BEGIN');
      const until = performance.now() + 10 * 20;
      while (performance.now() < until) {
        /* a stalled loop */
      }
      s.mark('END');
      await waitFor(
        () => s.messages.lastIndexOf('END') >= 0 && s.messages.slice(s.messages.lastIndexOf('END')).some(isPing),
        10_000,
        'a ping after the loop turned again',
      );
      const during = s.messages.slice(s.messages.indexOf('BEGIN') + 1, s.messages.indexOf('END'));
      expect(during).toEqual([]);
    } finally {
      n.close();
    }
  });

  it('wardgate run: READY=1 once the buffer is open and the adapters run, data in $STATE_DIRECTORY, pings, STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir();
    const state = join(dir, 'state');
    mkdirSync(state, { mode: 0o700 });
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    // No gateway.dataDir: under systemd it defaults to $STATE_DIRECTORY.
    writeFileSync(
      cfg,
      `buffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\ndevices:\n  simulator:\n    enabled: true\n    beds: 2\nlog:\n  level: warn\n`,
    );
    let atReady: { db: boolean; adapters: string[] } | null = null;
    const s = notifySocket((m) => {
      if (m.startsWith('READY=1')) {
        const st = existsSync(join(state, 'status.json')) ? JSON.parse(readFileSync(join(state, 'status.json'), 'utf8')) : null;
        atReady = { db: existsSync(join(state, DB_FILE)), adapters: (st?.adapters ?? []).map((a: { family: string }) => a.family) };
      }
    });
    const c = spawnCli(['run', '--config', cfg], { NOTIFY_SOCKET: s.path, WATCHDOG_USEC: '200000', STATE_DIRECTORY: state });
    try {
      await waitFor(() => s.messages.filter(isPing).length >= 2 || c.proc.exitCode !== null, 60_000, 'READY and two pings');
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      expect(s.messages[0]).toMatch(/^READY=1\n/);
      expect(s.messages[0]).toContain(`MAINPID=${c.proc.pid}`);
      expect(atReady).toEqual({ db: true, adapters: ['simulator'] });
      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    s.mark('END');
    await waitFor(() => s.messages.includes('END'), 10_000, 'every datagram read');
    const stop = s.messages.findIndex((m) => m.startsWith('STOPPING=1'));
    expect(stop).toBeGreaterThan(0);
    expect(s.messages.filter((m) => m.startsWith('READY=1'))).toHaveLength(1);
    // Only the gateway speaks on the socket: its children (timedatectl, ...) do not inherit it.
    expect(s.messages.filter((m) => m !== 'END' && !/^(READY|WATCHDOG|STOPPING|STATUS|RELOADING)=/.test(m))).toEqual([]);
  }, 90_000);

  it('a start that fails (no key file) exits 2 without READY=1', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, `gateway:\n  dataDir: ${join(dir, 'data')}\nkafka:\n  brokers: ["127.0.0.1:1"]\n`);
    const s = notifySocket();
    const c = spawnCli(['run', '--config', cfg], { NOTIFY_SOCKET: s.path, WATCHDOG_USEC: '200000' });
    expect(await c.exited).toBe(2);
    s.mark('END');
    await waitFor(() => s.messages.includes('END'), 10_000, 'every datagram read');
    expect(s.messages.filter((m) => m.startsWith('READY=1'))).toEqual([]);
    expect(s.messages.filter(isPing)).toEqual([]);
  }, 60_000);
});
