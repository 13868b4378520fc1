/**
 * The one place noble is loaded: the small part of its API wardgate uses, and a factory
 * that binds it to a HCI socket (Linux, hciN) or to a UART controller (H4 over a serial
 * port: a USB dongle in HCI-UART mode, or the simulated controller in hardware-mocks/).
 */

import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type { BleConfig } from './config.js';
import { UartHciSocket, useUartHciSocket } from './uart-socket.js';

export interface NobleCharacteristic extends EventEmitter {
  readonly uuid: string;
  readonly properties: readonly string[];
  subscribeAsync(): Promise<void>;
  unsubscribeAsync(): Promise<void>;
  readAsync(): Promise<Buffer>;
  writeAsync(data: Buffer, withoutResponse: boolean): Promise<void>;
}

export interface NoblePeripheral extends EventEmitter {
  readonly id: string;
  readonly address: string;
  readonly rssi: number;
  readonly state: string;
  readonly advertisement: { localName?: string; serviceUuids?: string[] };
  connectAsync(): Promise<void>;
  cancelConnect(): void;
  disconnectAsync(): Promise<void>;
  discoverAllServicesAndCharacteristicsAsync(): Promise<{ characteristics: NobleCharacteristic[] }>;
  updateRssiAsync(): Promise<number>;
}

export interface NobleLike extends EventEmitter {
  readonly state: string;
  startScanningAsync(serviceUuids?: string[], allowDuplicates?: boolean): Promise<void>;
  stopScanningAsync(): Promise<void>;
  stop(): void;
}

export type NobleFactory = () => NobleLike;

const require = createRequire(import.meta.url);

/**
 * A UART controller is driven through UartHciSocket (./uart-socket.ts), the same H4 transport
 * as the stock one at a fraction of its CPU per packet; `stockUart` keeps the stock one
 * (bench/ble.ts compares the two). The pause after each read of the UART before the next is the
 * setting `hci.uart.readPacing`; `readPacingMs` overrides it (bench/ble.ts --read-pacing).
 */
export function nobleFactory(hci: BleConfig['hci'], opts: { stockUart?: boolean; readPacingMs?: number } = {}): NobleFactory {
  return () => {
    const { withBindings } = require('@stoprocent/noble') as { withBindings: (type: string, opts: Record<string, unknown>) => NobleLike };
    if (hci.uart) {
      const n = withBindings('hci', {
        hciDriver: 'uart',
        bindParams: { uart: { port: hci.uart.port, baudRate: hci.uart.baudRate, readPacingMs: opts.readPacingMs ?? hci.uart.readPacing } },
      });
      return opts.stockUart ? n : useUartHciSocket(n);
    }
    return withBindings('hci', hci.deviceId !== undefined ? { deviceId: hci.deviceId } : {});
  };
}

/**
 * Stops a noble instance. Works around noble's UART driver: its stop removes every listener
 * of the serial port, so a port still opening that then fails (unplugged, missing) would emit
 * an unhandled 'error'; a no-op listener is put back after the stop.
 */
export function stopNoble(n: NobleLike): void {
  try {
    n.stop();
  } catch {
    /* a transport that is already gone */
  }
  const port = (n as unknown as { _bindings?: { _hci?: { _socket?: { _serialDevice?: { on?: unknown } } } } })._bindings?._hci?._socket?._serialDevice;
  if (port && typeof port.on === 'function') (port as { on(e: string, f: () => void): void }).on('error', () => undefined);
}

/**
 * Calls `f` when noble's transport reports an error (for a UART: the port cannot be opened or
 * went away), which noble itself does not turn into a state change. noble builds its transport
 * on the next tick after the first listener, so this looks for it then.
 */
export function onTransportError(n: NobleLike, f: (e: Error) => void): void {
  onTransport(n, 'error', f);
}

/**
 * A count of the HCI packets noble's transport has received (the controller is alive), read
 * when asked: wardgate's UART transport counts them itself; any other transport (the raw HCI
 * socket) gets a 'data' listener that counts.
 */
export function transportActivity(n: NobleLike): () => number {
  let count = 0;
  let uart: UartHciSocket | null = null;
  process.nextTick(() => {
    const socket = (n as unknown as { _bindings?: { _hci?: { _socket?: { on?: unknown } } } })._bindings?._hci?._socket;
    if (socket instanceof UartHciSocket) uart = socket;
    else if (socket && typeof socket.on === 'function')
      (socket as { on(e: string, g: () => void): void }).on('data', () => {
        count++;
      });
  });
  return () => (uart !== null ? uart.received : count);
}

function onTransport(n: NobleLike, event: string, f: (e: Error) => void): void {
  process.nextTick(() => {
    const socket = (n as unknown as { _bindings?: { _hci?: { _socket?: { on?: unknown } } } })._bindings?._hci?._socket;
    if (socket && typeof socket.on === 'function') (socket as { on(e: string, g: (e: Error) => void): void }).on(event, f);
  });
}
