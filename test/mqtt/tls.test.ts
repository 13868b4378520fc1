/** The TLS listener with a test CA: a client with a valid certificate connects, others do not. */

import { join } from 'node:path';
import { connect } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { makeTestPki, type TestPki } from './helpers/certs.js';
import { Cleanup, connectSensor, startAdapter } from './helpers/gateway.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki.remove());
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function tlsGateway(clientCertificates: 'required' | 'optional') {
  const sink = new RecordingSink();
  const g = await startAdapter(cleanup, sink, {
    enabled: true,
    embedded: {
      tls: { host: '127.0.0.1', port: 0, cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, clientCertificates },
      auth: {
        users: [
          { username: 'ox-12', publish: ['ward/12/#'] }, // certificate login (CN = ox-12)
          { username: 'nurse-tablet', passwordHash: await hashPassword('tab', { N: 1024 }), publish: ['ward/12/#'] },
        ],
      },
    },
    rules: SENSOR_RULES,
  });
  return { ...g, sink, url: `mqtts://127.0.0.1:${g.tlsPort}` };
}

function tryConnect(url: string, opts: Record<string, unknown>): Promise<'connected' | string> {
  const client = connect(url, { reconnectPeriod: 0, connectTimeout: 3000, ca: pki.read(pki.caCert), ...opts });
  cleanup.add(() => client.end(true));
  return new Promise((resolve) => {
    client.once('connect', () => resolve('connected'));
    client.once('error', (e) => resolve(e.message));
    client.once('close', () => resolve('closed'));
  });
}

describe('embedded broker: TLS listener', () => {
  it('accepts a client certificate from the CA and logs in as its CN', async () => {
    const { url, sink } = await tlsGateway('required');
    const c = pki.client('ox-12');
    const s = await connectSensor(cleanup, {
      url,
      clientId: 'ox1',
      bed: '12',
      device: 'ox1',
      format: 'text',
      tls: { ca: pki.read(pki.caCert), cert: pki.read(c.cert), key: pki.read(c.key) },
    });
    await s.publishReading({ spo2: 94, pulse: 60, time: Date.now() });
    expect(sink.committed.map((r) => [r.deviceId, r.value])).toEqual([['ox1', 94]]);
  });

  it('refuses a client without a certificate or with one from another CA', async () => {
    const { url, ctx } = await tlsGateway('required');
    const rogue = pki.rogueClient('ox-12');
    expect(await tryConnect(url, { clientId: 'n1' })).not.toBe('connected');
    expect(await tryConnect(url, { clientId: 'n2', cert: pki.read(rogue.cert), key: pki.read(rogue.key) })).not.toBe('connected');
    expect(await ctx.events.count('client_disconnected', { family: 'mqtt', reason: 'tls_handshake' })).toBeGreaterThanOrEqual(2);
  });

  it('refuses a valid certificate whose CN is no configured user', async () => {
    const { url } = await tlsGateway('required');
    const c = pki.client('someone-else');
    expect(await tryConnect(url, { clientId: 'x', cert: pki.read(c.cert), key: pki.read(c.key) })).toMatch(/Not authorized/i);
  });

  it('with optional client certificates, a password login works without one', async () => {
    const { url } = await tlsGateway('optional');
    expect(await tryConnect(url, { clientId: 'tab1', username: 'nurse-tablet', password: 'tab' })).toBe('connected');
    expect(await tryConnect(url, { clientId: 'tab2' })).toMatch(/Not authorized/i);
  });

  it('refuses a client that does not trust the server certificate', async () => {
    const { url } = await tlsGateway('optional');
    const rogueCa = pki.read(join(pki.dir, 'rogue-ca.crt'));
    expect(await tryConnect(url, { clientId: 'x', ca: rogueCa, username: 'nurse-tablet', password: 'tab' })).not.toBe('connected');
  });
});
