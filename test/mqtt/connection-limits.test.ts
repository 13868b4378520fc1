/** Per-address connection limits of the embedded broker (real aedes, real sockets). */

import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { RecordingSink } from './helpers/sink.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Opens a TCP connection from `from`; resolves once it is open, with whether the server closed it. */
function open(port: number, from: string): Promise<{ sock: Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let closed = false;
    const sock = tcpConnect({ host: '127.0.0.1', port, localAddress: from });
    sock.on('close', () => (closed = true));
    sock.on('error', () => undefined);
    sock.once('connect', () => resolve({ sock, closed: () => closed }));
    sock.once('error', reject);
    cleanup.add(() => sock.destroy());
  });
}

describe('embedded broker: connections per source address', () => {
  it('closes a connection beyond maxConnectionsPerSource from one address at once, and counts it; other addresses are not affected', async () => {
    const g = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: { tcp: { host: '0.0.0.0', port: 0 }, auth: { anonymous: { publish: ['ward/#'] } }, limits: { maxConnectionsPerSource: 3 } },
    });
    const port = g.adapter.addresses().tcp!.port;
    const first = await Promise.all([1, 2, 3].map(() => open(port, '127.0.0.9')));
    const fourth = await open(port, '127.0.0.9');
    const other = await open(port, '127.0.0.10');
    await waitFor(() => fourth.closed(), 'the fourth connection to be closed');
    expect(await g.ctx.events.count('client_disconnected', { reason: 'source_connection_limit' })).toBe(1);
    expect(first.map((c) => c.closed())).toEqual([false, false, false]);
    expect(other.closed()).toBe(false);
    first[0]!.sock.destroy();
    await waitFor(async () => {
      const again = await open(port, '127.0.0.9');
      await new Promise((r) => setTimeout(r, 50));
      return !again.closed();
    }, 'a slot to be free again');
  });

  it('closes connections beyond the per-address rate', async () => {
    const g = await startAdapter(cleanup, new RecordingSink(), {
      enabled: true,
      embedded: {
        tcp: { host: '0.0.0.0', port: 0 },
        auth: { anonymous: { publish: ['ward/#'] } },
        limits: { connectionsPerSecondPerSource: 0.001, connectionBurstPerSource: 2 },
      },
    });
    const port = g.adapter.addresses().tcp!.port;
    const cs: { sock: Socket; closed: () => boolean }[] = [];
    for (let i = 0; i < 4; i++) cs.push(await open(port, '127.0.0.11'));
    await waitFor(() => cs.filter((c) => c.closed()).length === 2, 'two connections to be closed');
    expect(cs.map((c) => c.closed())).toEqual([false, false, true, true]);
    expect(await g.ctx.events.count('client_disconnected', { reason: 'connection_rate' })).toBe(2);
  });
});
