/**
 * The only code that touches a serial port: open with the port's line settings, read,
 * write, pause, close. Everything above it sees bytes and events.
 */
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

export function openLink(path: string, s: PortSettings, h: LinkHandlers): Promise<Link> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({
      path,
      baudRate: s.baudRate,
      dataBits: s.dataBits,
      parity: s.parity,
      stopBits: s.stopBits,
      rtscts: s.rtscts,
      autoOpen: false,
    });
    let closing = false;
    port.open((err) => {
      if (err) {
        reject(err);
        return;
      }
      port.on('data', (chunk: Buffer) => h.data(chunk));
      port.on('error', () => undefined); // the close that follows carries it
      port.on('close', (e?: Error) => h.closed(closing ? undefined : (e ?? new Error('port closed'))));
      resolve({
        write: (b) => {
          port.write(b, (e) => {
            if (e && !closing) port.close(() => undefined);
          });
        },
        pause: () => port.pause(),
        resume: () => port.resume(),
        close: () =>
          new Promise<void>((res) => {
            closing = true;
            if (!port.isOpen) return res();
            port.close(() => res());
          }),
      });
    });
  });
}
