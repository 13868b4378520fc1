/**
 * The HCI transport over a UART (H4) that noble's HCI layer uses when wardgate talks to a
 * controller on a serial port: the same interface and behaviour as the UART socket of
 * @stoprocent/bluetooth-hci-socket (lib/uart.js), which noble would use otherwise, but
 * cheaper per packet. The port is opened, configured and written to by `serialport` as
 * before; reads no longer go through its stream: when the port's poller says readable, the
 * bytes are read at once on this thread (the descriptor is non-blocking) and cut into H4
 * packets here. The stock path costs, per read, a read on libuv's thread pool plus a second
 * one that fails with EAGAIN (an exception), a promise, a Readable stream push, a pipe into
 * a Transform that concatenates buffers, and a second stream push (docs/ble.md, benchmark).
 *
 * Behaviour kept from the stock socket: writes wait until the controller has answered the
 * HCI Reset sent at bind (and packets before that answer are dropped); `reset()` writes a
 * Reset at once; an unknown packet type discards what is buffered; a read error or a closed
 * port closes the port, reports `state` false (noble then says poweredOff); `stop()` closes
 * the port. Not kept: the stock socket's own reconnection loop (it looks the port up in
 * SerialPort.list, which never lists a pty link); the BLE adapter recovers a lost
 * controller itself, with a new noble and a new transport.
 */

import { EventEmitter } from 'node:events';
import { readSync } from 'node:fs';
import { createRequire } from 'node:module';

const HCI_COMMAND_PKT = 0x01;
const HCI_ACLDATA_PKT = 0x02;
const HCI_EVENT_PKT = 0x04;
/** HCI Reset (OGF 0x03, OCF 0x0003), no parameters. */
const RESET_COMMAND = Buffer.from([HCI_COMMAND_PKT, 0x03, 0x0c, 0x00]);
/** Command Complete for HCI Reset, status success (with 1, 2 or 5 command credits), as the stock socket looks for. */
const RESET_COMPLETE = [Buffer.from('040e0401030c00', 'hex'), Buffer.from('040e0402030c00', 'hex'), Buffer.from('040e0405030c00', 'hex')];
/** Bytes read at most per read (the stock stream's default highWaterMark). */
const READ_SIZE = 64 * 1024;

/** The part of a `serialport` SerialPort used here. */
interface SerialDevice extends EventEmitter {
  readonly isOpen: boolean;
  readonly port?: { fd?: unknown; poller?: { once(event: 'readable', cb: (err: Error | null) => void): unknown } };
  open(): void;
  close(cb?: (err: Error | null) => void): void;
  write(data: Buffer): boolean;
}

const require = createRequire(import.meta.url);

/**
 * Where the stock socket looks for the port and rate: the bind parameters, else the environment,
 * else 1,000,000 baud. `readPacingMs` (wardgate's own, given by nobleFactory from the setting
 * `hci.uart.readPacing`, or bench/ble.ts --read-pacing): the pause after each read before the next.
 */
function serialParams(params: unknown): { port: string | undefined; baudRate: number; readPacingMs: number } {
  let port = process.env.BLUETOOTH_HCI_SOCKET_UART_PORT;
  let baudRate = 1_000_000;
  const envRate = Number.parseInt(process.env.BLUETOOTH_HCI_SOCKET_UART_BAUDRATE ?? '', 10);
  if (!Number.isNaN(envRate)) baudRate = envRate;
  const uart = (params as { uart?: { port?: unknown; baudRate?: unknown; readPacingMs?: unknown } } | undefined)?.uart;
  if (typeof uart?.port === 'string' && uart.port) port = uart.port;
  if (typeof uart?.baudRate === 'number' && Number.isFinite(uart.baudRate) && uart.baudRate) baudRate = uart.baudRate;
  const pacing = uart?.readPacingMs;
  return { port, baudRate, readPacingMs: typeof pacing === 'number' && Number.isFinite(pacing) && pacing > 0 ? pacing : 0 };
}

export class UartHciSocket extends EventEmitter {
  private mode: 'raw' | 'user' | 'control' | null = null;
  private isUp = false;
  private stopped = false;
  /** Packets received from the controller (the adapter's sign of life; no 'data' listener of its own needed). */
  received = 0;
  /** Reads of the port that returned (on the poller path). */
  reads = 0;
  /** Named as in the stock socket (noble.ts's stopNoble looks for it). */
  _serialDevice: SerialDevice | null = null;
  /** Writes held until the controller has answered the Reset. */
  private held: Buffer[] = [];
  /** Bytes of a packet not yet complete. */
  private pending: Buffer | null = null;
  private readonly readBuf = Buffer.allocUnsafe(READ_SIZE);
  private readonly exitHandler = (): void => this.reset();

  /** The stock socket sets no event filter over a UART. */
  setFilter(_filter: Buffer): void {}

  bindRaw(devId: number | undefined, params: unknown): void {
    this.bindUser(devId, params, 'raw');
    this.reset();
  }

  bindUser(_devId: number | undefined, params: unknown = {}, mode: 'raw' | 'user' = 'user'): void {
    this.mode = mode;
    const { port, baudRate, readPacingMs } = serialParams(params);
    if (typeof port !== 'string' || !Number.isInteger(baudRate)) throw new Error('Invalid UART parameters');
    const { SerialPort } = require('serialport') as { SerialPort: new (o: Record<string, unknown>) => SerialDevice };
    const sd = new SerialPort({ path: port, baudRate, autoOpen: false });
    this._serialDevice = sd;
    this.held = [];
    this.pending = null;
    sd.on('error', (e: Error) => this.emit('error', e));
    sd.on('open', () => {
      if (this.stopped) sd.close(() => undefined);
      else this.startReading(sd, readPacingMs);
    });
    sd.on('close', () => {
      this.isUp = false;
      this.emit('state', false);
    });
  }

  bindControl(): void {
    this.mode = 'control';
  }

  isDevUp(): boolean {
    return this.isUp;
  }

  start(): void {
    if (this.mode !== 'raw' && this.mode !== 'user') return;
    const sd = this._serialDevice;
    if (!sd) throw new Error('Serial device is not initialized');
    if (!sd.isOpen) {
      sd.open();
      process.on('exit', this.exitHandler);
    }
  }

  stop(): void {
    process.removeListener('exit', this.exitHandler);
    if (this.mode !== 'raw' && this.mode !== 'user') return;
    this.stopped = true;
    this.isUp = false;
    const sd = this._serialDevice;
    if (!sd) return;
    if (sd.isOpen) sd.close(() => undefined);
    // Still opening: the 'open' listener closes it. A port that then fails must not raise an unhandled error.
    sd.removeAllListeners('close');
    sd.removeAllListeners('error');
    sd.on('error', () => undefined);
  }

  write(data: Buffer): void {
    if (this.mode !== 'raw' && this.mode !== 'user') return;
    if (this.isUp && this._serialDevice) this._serialDevice.write(data);
    else this.held.push(data);
  }

  reset(): void {
    this._serialDevice?.write(RESET_COMMAND);
  }

  /**
   * Reads when the port's poller says readable; without a poller (not Linux/macOS), from the
   * stream. After a read that returned bytes, the poller is asked again only `pacingMs` later.
   */
  private startReading(sd: SerialDevice, pacingMs: number): void {
    const port = sd.port;
    const fd = port?.fd;
    const poller = port?.poller;
    if (typeof fd !== 'number' || !poller) {
      sd.on('data', (chunk: Buffer) => this.onChunk(chunk));
      return;
    }
    const gone = (): void => {
      // The device went away: as the stock stream does, close the port ('state' false follows).
      if (sd.isOpen) sd.close(() => undefined);
    };
    // Made once per port, not once per read: V8 keeps a function's optimised code only while
    // one of its closures lives (README, Performance).
    const rearm = (): void => {
      if (!this.stopped && sd.isOpen) poller.once('readable', onReadable);
    };
    const onReadable = (err: Error | null): void => {
      if (this.stopped || !sd.isOpen) return;
      if (err) {
        // Cancelled: the port is closing. Any other (the other end hung up: EBADF from the poll) is a disconnect.
        if (!(err as { canceled?: boolean }).canceled) gone();
        return;
      }
      let n: number;
      try {
        n = readSync(fd, this.readBuf, 0, READ_SIZE, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') {
          poller.once('readable', onReadable);
          return;
        }
        // EIO, ENXIO, EBADF: the device went away.
        gone();
        return;
      }
      this.reads++;
      if (n > 0) this.onChunk(Buffer.from(this.readBuf.subarray(0, n)));
      if (this.stopped || !sd.isOpen) return;
      if (pacingMs > 0 && n > 0) {
        // The next bytes wait in the tty buffer: one wake-up for several packets.
        setTimeout(rearm, pacingMs).unref();
      } else {
        poller.once('readable', onReadable);
      }
    };
    poller.once('readable', onReadable);
  }

  /** Cuts bytes into H4 packets and emits each one (once the controller has answered the Reset). */
  private onChunk(chunk: Buffer): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    if (!this.isUp) {
      if (this.mode === 'raw' && RESET_COMPLETE.some((p) => data.includes(p))) {
        // As the stock socket: what came with the Reset's answer is discarded, then writes flow.
        this.isUp = true;
        const held = this.held;
        this.held = [];
        for (const h of held) this._serialDevice?.write(h);
        this.emit('state', true);
      } else {
        // Packets before the Reset's answer are dropped (the stock parser's are, too); the last
        // bytes are kept, so an answer split across two reads is still found.
        this.pending = Buffer.from(data.subarray(Math.max(0, data.length - (RESET_COMPLETE[0]!.length - 1))));
      }
      return;
    }
    let o = 0;
    while (o < data.length) {
      const type = data[o]!;
      let size: number;
      if (type === HCI_EVENT_PKT || type === HCI_COMMAND_PKT) {
        if (data.length - o < 3) break;
        size = 3 + data[o + 2]!;
      } else if (type === HCI_ACLDATA_PKT) {
        if (data.length - o < 5) break;
        size = 5 + data.readUInt16LE(o + 3);
      } else {
        // Not a packet type the host reads: resynchronise by dropping what is buffered.
        o = data.length;
        break;
      }
      if (data.length - o < size) break;
      const packet = data.subarray(o, o + size);
      o += size;
      this.received++;
      this.emit('data', packet);
      if (this.stopped) return;
    }
    if (o < data.length) {
      data = data.subarray(o);
      this.pending = data;
    }
  }
}

/**
 * Makes a noble instance built on the HCI bindings use UartHciSocket instead of the stock UART
 * socket. noble's bindings build their Hci (which builds the stock socket, inert until bound)
 * and bind it in one call when noble first starts; the socket is swapped in between, the
 * moment the Hci object is stored on the bindings. Nothing else of noble is changed.
 */
export function useUartHciSocket<T extends object>(noble: T): T {
  const bindings = (noble as { _bindings?: Record<string, unknown> })._bindings;
  if (!bindings || !('_hci' in bindings)) throw new Error('noble without its HCI bindings: cannot set the UART transport');
  let hci = bindings._hci;
  Object.defineProperty(bindings, '_hci', {
    configurable: true,
    enumerable: true,
    get: () => hci,
    set: (v: unknown) => {
      if (v && typeof v === 'object' && '_socket' in v) (v as { _socket: unknown })._socket = new UartHciSocket();
      hci = v;
    },
  });
  return noble;
}
