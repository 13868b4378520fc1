/**
 * The only code that touches a serial port: open with the port's line settings, read,
 * write, pause, close. Everything above it sees bytes and events.
 *
 * The port is opened by serialport's native binding (termios line settings, exclusive lock,
 * non-blocking fd), and read and written here, on the event loop, when its poller (epoll) says
 * the fd is ready: read(2) per readiness until a short read, one write(2) per output. serialport's
 * stream instead sends every read and write through the libuv thread pool (two pool round trips
 * per chunk received: the read, then the read that meets EAGAIN and waits for the poller), which
 * at a ward's load (30 monitors polled at 1 Hz) cost more CPU than the monitors' decoding.
 * A read or write on a non-blocking fd never waits, so the event loop never blocks here.
 */
import { readSync, writeSync } from 'node:fs';
import { SerialPort } from 'serialport';
import type { PortSettings } from './protocols/types.js';

export interface LinkHandlers {
  data(chunk: Buffer): void;
  /** The port went away (unplugged, EIO) or closed; `error` when it was not our close. */
  closed(error?: Error): void;
}

export interface Link {
  write(bytes: Buffer): void;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

/** What the poller reports to a waiting handler: null, or why the wait ended (canceled: the port is closing). */
type PollerError = Error & { canceled?: boolean };

/** What the link needs of serialport's binding: its fd and the poller on it (Linux and macOS bindings). */
interface UnixPort {
  fd: number | null;
  poller: {
    once(event: 'readable' | 'writable', cb: (err: PollerError | null) => void): unknown;
  };
  close(): Promise<void>;
}

/** Bytes asked of one read(2) (serialport's stream read 64 KiB at a time too). */
const READ_BYTES = 64 * 1024;
/** Reads in one turn of the event loop before the rest waits for the next (a port that never runs dry). */
const READS_PER_TURN = 16;
/** After a read of 0 bytes (a hung-up tty), the next read waits this long instead of spinning; the worker's path check ends such a link. */
const HANGUP_RETRY_MS = 100;

const again = (code: string | undefined): boolean => code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR';

/** A failed read, as serialport's stream reported it (its message, no errno code: the worker says `retrying (closed)`). */
const disconnected = (e: unknown): Error => Object.assign(new Error(e instanceof Error ? e.message : String(e)), { name: 'DisconnectedError' });

/** One scratch buffer for every port's reads: each chunk handed on is a copy of what was read. */
const scratch = Buffer.allocUnsafe(READ_BYTES);

export async function openLink(path: string, s: PortSettings, h: LinkHandlers): Promise<Link> {
  const port = (await SerialPort.binding.open({
    path,
    baudRate: s.baudRate,
    dataBits: s.dataBits,
    parity: s.parity,
    stopBits: s.stopBits,
    rtscts: s.rtscts,
  })) as unknown as UnixPort;
  if (typeof port.fd !== 'number' || !port.poller) {
    await port.close().catch(() => undefined);
    throw new Error('serial ports need a Unix binding with a poller (Linux or macOS)');
  }
  const fd = port.fd;
  let closing = false;
  let closed = false;
  let paused = false;
  let readArmed = false;
  let writeArmed = false;
  let hangupTimer: NodeJS.Timeout | null = null;
  /** Bytes not yet written, oldest first (the first may be partly written: `written` of it). */
  const outbox: Buffer[] = [];
  let written = 0;

  /** Closes the port; `error` (not our close) goes to the handler. Once. */
  const finish = (error?: Error): Promise<void> => {
    if (closed) return Promise.resolve();
    closed = true;
    if (hangupTimer) clearTimeout(hangupTimer);
    outbox.length = 0;
    const done = port.close().catch(() => undefined);
    return done.then(() => h.closed(closing ? undefined : (error ?? new Error('port closed'))));
  };

  // The poller's handlers are made once per link, not once per wait: V8 keeps a function's
  // optimised code only while one of its closures lives (README, Performance).
  const onReadable = (err: PollerError | null): void => {
    readArmed = false;
    if (closed) return;
    if (err) {
      if (!err.canceled) void finish(disconnected(err));
      return;
    }
    readNow();
  };
  const armRead = (): void => {
    if (readArmed || closed) return;
    readArmed = true;
    port.poller.once('readable', onReadable);
  };

  const readNow = (): void => {
    for (let i = 0; i < READS_PER_TURN; i++) {
      if (closed || paused) return;
      let n: number;
      try {
        n = readSync(fd, scratch, 0, READ_BYTES, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EINTR') continue;
        if (again(code)) armRead();
        else void finish(disconnected(e));
        return;
      }
      if (n === 0) {
        // A hung-up tty reads 0 at once, forever: look again later, not in a loop.
        hangupTimer ??= setTimeout(() => {
          hangupTimer = null;
          if (!closed && !paused) readNow();
        }, HANGUP_RETRY_MS);
        return;
      }
      h.data(Buffer.from(scratch.subarray(0, n)));
      // A short read took all the tty had: wait for the poller (level-triggered: it fires again
      // at once if more came meanwhile) instead of reading on into EAGAIN: that read fails with an
      // exception, which costs CPU on every chunk (docs/serial.md).
      if (n < READ_BYTES) {
        armRead();
        return;
      }
    }
    // Still more to read: the rest on the next turn, after what else is waiting.
    setImmediate(() => {
      if (!closed && !paused) readNow();
    });
  };

  const flush = (): void => {
    while (outbox.length > 0 && !closed) {
      const b = outbox[0]!;
      let n: number;
      try {
        n = writeSync(fd, b, written, b.length - written);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EINTR') continue;
        // A failed write closes the port (as serialport's stream did: a plain close, no reason).
        if (again(code)) armWrite();
        else if (!closing) void finish();
        return;
      }
      written += n;
      if (written >= b.length) {
        outbox.shift();
        written = 0;
      }
    }
  };

  const onWritable = (err: PollerError | null): void => {
    writeArmed = false;
    if (closed) return;
    if (err) {
      if (!err.canceled && !closing) void finish();
      return;
    }
    flush();
  };
  const armWrite = (): void => {
    if (writeArmed || closed) return;
    writeArmed = true;
    port.poller.once('writable', onWritable);
  };

  armRead();
  return {
    write: (b) => {
      if (closed || b.length === 0) return;
      outbox.push(b);
      if (!writeArmed) flush();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      // What arrived meanwhile is read now (the poller may have fired while paused).
      if (!closed && !readArmed) readNow();
    },
    close: () => {
      closing = true;
      // Bytes queued before the close (a protocol's release request) are written first where the fd takes them.
      flush();
      return finish();
    },
  };
}
