/**
 * Bounds what a Kafka connection may make the gateway hold. Every Kafka response starts with its
 * size (INT32), and both clients keep reading until that many bytes are in: a peer at the
 * configured address that is not a Kafka broker (a wrong port) or one that misbehaves can declare
 * 2 GB and stream it. Probed: a server answering every request with the size 0x7ffffff0 and
 * endless bytes grew the shipped gateway to 4.2-4.5 GB resident with either client (systemd's
 * MemoryMax is 512 MiB). The guard reads the same sizes from the connection's bytes and destroys
 * a connection whose response would be larger than MAX_RESPONSE_BYTES (or negative), with an
 * error that says so; the client then fails its request and reconnects later, as for any
 * connection error. A produce or metadata response of a real broker is kilobytes.
 */
import { subscribe } from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import { steadyNow } from '../steady-clock.js';

export const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

export class KafkaResponseTooLarge extends Error {
  constructor(readonly size: number) {
    super(
      `a Kafka response declared ${size} bytes, over the ${MAX_RESPONSE_BYTES}-byte bound: connection dropped ` +
        '(is kafka.brokers the address of a Kafka broker?)',
    );
    this.name = 'KafkaResponseTooLarge';
  }
}

const guarded = new WeakSet<Duplex>();

/** The guard's last drop in this process (steadyNow), and why. */
let lastDrop: { at: number; message: string } | null = null;

/**
 * Why the guard last dropped a connection, if it did at or after `since` (steadyNow), else null.
 * @platformatic/kafka fails the request of a destroyed connection with "Connection closed" alone;
 * its client names the guard's reason from this.
 */
export function responseDropSince(since: number): string | null {
  return lastDrop !== null && lastDrop.at >= since ? lastDrop.message : null;
}

/** Watches `socket`'s incoming bytes (decrypted, for TLS) from now on; the first bytes must be a response's size. */
export function guardResponses(socket: Duplex, max = MAX_RESPONSE_BYTES): void {
  if (guarded.has(socket)) return;
  guarded.add(socket);
  const header = Buffer.alloc(4);
  let have = 0;
  let remaining = 0;
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (remaining > 0) {
        const take = Math.min(remaining, chunk.length - i);
        remaining -= take;
        i += take;
        continue;
      }
      header[have++] = chunk[i++]!;
      if (have < 4) continue;
      have = 0;
      const size = header.readInt32BE(0);
      if (size < 0 || size > max) {
        const e = new KafkaResponseTooLarge(size);
        lastDrop = { at: steadyNow(), message: e.message };
        socket.destroy(e);
        return;
      }
      remaining = size;
    }
  });
}

let platformaticGuarded = false;

/**
 * Guards every connection @platformatic/kafka makes in this process: it announces each one on its
 * diagnostics channel as it starts connecting, and makes the socket right after (synchronously).
 */
export function guardPlatformaticConnections(): void {
  if (platformaticGuarded) return;
  platformaticGuarded = true;
  subscribe('tracing:plt:kafka:connections:connects:start', (message) => {
    const connection = (message as { connection?: { socket?: Duplex } }).connection;
    queueMicrotask(() => {
      const socket = connection?.socket;
      if (socket) guardResponses(socket);
    });
  });
}
