/**
 * An external MQTT broker over TLS (Debian's Mosquitto, certificates made with openssl by the
 * test) must prove who it is: a CA that did not sign its certificate, or a certificate for
 * another host name, keeps the gateway from connecting (the error is kept in its status and
 * counted); with the right CA and name the same broker is accepted, so the refusals come from
 * the check and nothing else.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from './helpers/certs.js';
import { waitFor } from './helpers/context.js';
import { Cleanup, startAdapter } from './helpers/gateway.js';
import { type Mosquitto, startMosquitto } from './helpers/mosquitto.js';
import { SENSOR_RULES } from './helpers/rules.js';
import { RecordingSink } from './helpers/sink.js';

let pki: TestPki;
/** Its certificate names IP:127.0.0.1 and localhost. */
let usual: Mosquitto;
/** Its certificate names broker.ward7.example only. */
let named: Mosquitto;
const cleanup = new Cleanup();

beforeAll(async () => {
  pki = makeTestPki();
  const other = pki.server('broker.ward7.example', 'DNS:broker.ward7.example');
  usual = await startMosquitto({ listener: [`certfile ${pki.serverCert}`, `keyfile ${pki.serverKey}`] });
  named = await startMosquitto({ listener: [`certfile ${other.cert}`, `keyfile ${other.key}`] });
});
afterAll(async () => {
  await cleanup.run();
  await usual?.stop();
  await named?.stop();
  pki?.remove();
});

/** Starts an adapter subscribed to one external broker; returns it and its events. */
async function gateway(name: string, port: number, tls: Record<string, unknown>) {
  const g = await startAdapter(cleanup, new RecordingSink(), {
    enabled: true,
    external: [{ name, url: `mqtts://127.0.0.1:${port}`, clientId: `wg-${name}`, subscriptions: ['ward/#'], reconnect: { initial: 100, max: 400 }, tls }],
    rules: SENSOR_RULES,
  });
  return g;
}

const detail = (g: Awaited<ReturnType<typeof gateway>>): string => g.adapter.status().detail ?? '';
const externalErrors = (g: Awaited<ReturnType<typeof gateway>>) => g.ctx.events.count('device_error', { family: 'mqtt', reason: 'external_connection' });

describe('external MQTT broker over TLS: the broker is verified', () => {
  it('a CA that did not sign the broker certificate: never connected, the certificate error counted', async () => {
    const g = await gateway('wrong-ca', usual.port, { ca: pki.rogueCaCert });
    await waitFor(async () => (await externalErrors(g)) >= 2, 'two refused attempts (it keeps trying)');
    expect(detail(g)).toContain('wrong-ca: disconnected');
    const ext = (g.adapter as unknown as { externals: { status(): { connected: boolean; lastError?: string } }[] }).externals[0]!.status();
    expect(ext.connected).toBe(false);
    expect(ext.lastError).toMatch(/self[- ]signed|unable to (get|verify)|certificate/i);
  });

  it('a certificate for another host name: never connected, the name mismatch counted', async () => {
    const g = await gateway('wrong-name', named.port, { ca: pki.caCert });
    await waitFor(async () => (await externalErrors(g)) >= 2, 'two refused attempts (it keeps trying)');
    expect(detail(g)).toContain('wrong-name: disconnected');
    const ext = (g.adapter as unknown as { externals: { status(): { connected: boolean; lastError?: string } }[] }).externals[0]!.status();
    expect(ext.connected).toBe(false);
    expect(ext.lastError).toMatch(/does not match|altnames/i);
  });

  it('controls: the right CA and the right name connect to the same two brokers', async () => {
    const a = await gateway('right-ca', usual.port, { ca: pki.caCert });
    const b = await gateway('right-name', named.port, { ca: pki.caCert, servername: 'broker.ward7.example' });
    await waitFor(() => detail(a).includes('right-ca: connected') && detail(b).includes('right-name: connected'), 'both connected');
    expect(await externalErrors(a)).toBe(0);
    expect(await externalErrors(b)).toBe(0);
  });
});
