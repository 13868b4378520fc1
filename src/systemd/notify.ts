/**
 * sd_notify(3) for `Type=notify` units, without libsystemd: datagrams to `$NOTIFY_SOCKET`.
 *
 * Node has no Unix datagram sockets, so the datagrams go through `unix-dgram` (a small native
 * module built from source by node-gyp, no system library needed, so it builds on a Pi and
 * cross-builds for arm64 like better-sqlite3). Spawning `systemd-notify` instead would need
 * `NotifyAccess=all` and, on systemd 252, loses messages whose sender exited before systemd
 * read its credentials; and a helper process would keep pinging while our event loop is stuck.
 *
 * The watchdog ping is a timer on the event loop at half of `$WATCHDOG_USEC`: when the loop
 * stops turning the pings stop and systemd restarts the service (WatchdogSec in the unit).
 */
import { createRequire } from 'node:module';
import type { Logger } from '../logger.js';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb?: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', cb: (err: Error) => void): void;
}

/** Sends one datagram; throws when it could not be sent. */
export type NotifySend = (message: string) => void;

function dgramSender(path: string): { send: NotifySend; close: () => void } {
  const require = createRequire(import.meta.url);
  const unix = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };
  const socket = unix.createSocket('unix_dgram');
  let lastError: Error | undefined;
  socket.on('error', (e) => {
    lastError = e;
  });
  return {
    send: (message) => {
      const buf = Buffer.from(message, 'utf8');
      let err: Error | undefined;
      socket.send(buf, 0, buf.length, path, (e) => {
        err = e;
      });
      if (err ?? lastError) throw err ?? lastError;
    },
    close: () => socket.close(),
  };
}

export interface NotifierOptions {
  env?: NodeJS.ProcessEnv;
  log: Logger;
  pid?: number;
  /** The transport (tests); default: a Unix datagram socket to $NOTIFY_SOCKET. */
  sender?: (path: string) => { send: NotifySend; close: () => void };
}

/** What systemd asked for through the environment: the socket and the watchdog ping interval (half of WATCHDOG_USEC), if any. */
export function notifySettings(env: NodeJS.ProcessEnv, pid: number): { socket: string | null; watchdogIntervalMs: number | null } {
  const socket = env.NOTIFY_SOCKET && env.NOTIFY_SOCKET.length > 0 ? env.NOTIFY_SOCKET : null;
  const usec = Number(env.WATCHDOG_USEC);
  // WATCHDOG_PID names the process systemd watches; another process's watchdog is not ours to feed.
  const forUs = env.WATCHDOG_PID === undefined || env.WATCHDOG_PID === '' || Number(env.WATCHDOG_PID) === pid;
  const watchdogIntervalMs = socket && forUs && Number.isFinite(usec) && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : null;
  return { socket, watchdogIntervalMs };
}

export class ServiceNotifier {
  private readonly log: Logger;
  private readonly transport: { send: NotifySend; close: () => void } | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  private failedOnce = false;
  readonly watchdogIntervalMs: number | null;

  constructor(opts: NotifierOptions) {
    this.log = opts.log;
    const env = opts.env ?? process.env;
    const s = notifySettings(env, opts.pid ?? process.pid);
    // Like sd_notify(unset_environment=1): child processes (timedatectl, socat, ...) must not
    // inherit the socket, or systemd tools among them report their own state (ERRNO=...) on it.
    if (env === process.env) {
      delete process.env.NOTIFY_SOCKET;
      delete process.env.WATCHDOG_USEC;
      delete process.env.WATCHDOG_PID;
    }
    this.watchdogIntervalMs = s.watchdogIntervalMs;
    if (s.socket === null) return;
    if (s.socket.startsWith('@')) {
      this.log.warn(
        { notifySocket: s.socket },
        'NOTIFY_SOCKET is an abstract socket, which unix-dgram cannot address: no readiness or watchdog notifications are sent',
      );
      return;
    }
    try {
      this.transport = (opts.sender ?? dgramSender)(s.socket);
    } catch (e) {
      this.log.error(
        { err: e instanceof Error ? e.message : String(e) },
        'cannot open the systemd notification socket (unix-dgram): no readiness or watchdog notifications are sent',
      );
    }
  }

  /** Whether systemd asked for notifications (NOTIFY_SOCKET set and usable). */
  get enabled(): boolean {
    return this.transport !== null;
  }

  private send(message: string): void {
    if (!this.transport) return;
    try {
      this.transport.send(message);
    } catch (e) {
      // Said once: a notification socket that went away must not flood the journal every ping.
      if (!this.failedOnce) this.log.warn({ err: e instanceof Error ? e.message : String(e), message: message.split('=')[0] }, 'systemd notification not sent');
      this.failedOnce = true;
    }
  }

  /** READY=1 (call once the buffer is open and the adapters started), and start the watchdog pings. */
  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status.replace(/\n/g, ' ')}\nMAINPID=${process.pid}`);
    if (this.transport && this.watchdogIntervalMs !== null && this.watchdog === null) {
      // A timer on the event loop: a stalled loop stops the pings.
      this.watchdog = setInterval(() => this.send('WATCHDOG=1'), this.watchdogIntervalMs);
    }
  }

  status(status: string): void {
    this.send(`STATUS=${status.replace(/\n/g, ' ')}`);
  }

  reloading(): void {
    this.send('RELOADING=1');
  }

  /** STOPPING=1 on the way out; the watchdog keeps pinging while the stop drains (TimeoutStopSec bounds it). */
  stopping(status = 'stopping'): void {
    this.send(`STOPPING=1\nSTATUS=${status.replace(/\n/g, ' ')}`);
  }

  close(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    try {
      this.transport?.close();
    } catch {
      /* already closed */
    }
  }
}
