/**
 * The monitor's end of the cable: opens a serial path with `serialport`, reopens it when it
 * goes away (the pty pair was unplugged), and counts the bytes it wrote. No protocol here.
 */
import { realpathSync } from 'node:fs';
import { SerialPort } from 'serialport';

export interface DevicePortOptions {
  path: string;
  baudRate: number;
  parity?: 'none' | 'even' | 'odd';
  /** Called with every chunk the gateway sent. */
  onData?: (chunk: Buffer) => void;
  /** Called each time the port (re)opens. */
  onOpen?: () => void;
}

export class DevicePort {
  private port: SerialPort | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private watch: NodeJS.Timeout | null = null;
  private openedAs: string | null = null;
  bytesWritten = 0;
  /** Writes the OS has not taken yet (the gateway stopped reading). */
  blocked = false;

  constructor(private readonly opts: DevicePortOptions) {}

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  start(): void {
    this.closed = false;
    this.tryOpen();
  }

  private tryOpen(): void {
    if (this.closed) return;
    const p = new SerialPort({ path: this.opts.path, baudRate: this.opts.baudRate, parity: this.opts.parity ?? 'none', autoOpen: false });
    p.open((err) => {
      if (err) {
        this.timer = setTimeout(() => this.tryOpen(), 50);
        return;
      }
      if (this.closed) {
        p.close(() => undefined);
        return;
      }
      this.port = p;
      this.blocked = false;
      this.openedAs = resolve(this.opts.path);
      // A pty pair that was unplugged does not always close our end: watch the path instead.
      this.watch ??= setInterval(() => {
        if (this.port?.isOpen && resolve(this.opts.path) !== this.openedAs) this.port.close(() => undefined);
      }, 100);
      p.on('data', (c: Buffer) => this.opts.onData?.(c));
      p.on('error', () => undefined);
      p.on('close', () => {
        if (this.port === p) this.port = null;
        if (!this.closed) this.timer = setTimeout(() => this.tryOpen(), 50);
      });
      this.opts.onOpen?.();
    });
  }

  /** Writes bytes if the port is open; returns false when it is not (the bytes are lost, as on a real cable). */
  write(bytes: Buffer): boolean {
    const p = this.port;
    if (!p?.isOpen) return false;
    this.bytesWritten += bytes.length;
    const ok = p.write(bytes);
    if (!ok) {
      this.blocked = true;
      p.once('drain', () => {
        this.blocked = false;
      });
    }
    return true;
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.watch) clearInterval(this.watch);
    this.watch = null;
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise((r) => p.close(() => r(undefined)));
  }
}

function resolve(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}
