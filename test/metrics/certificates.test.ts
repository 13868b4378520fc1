/**
 * Certificates that end: files made by the openssl CLI with validity periods the test chooses (an
 * ended one under libfaketime, made "in 2020"), read by certificates.ts, and a live gateway whose
 * Kafka TLS certificate ends in 10 days: /status and /metrics say so against a 21-day threshold,
 * and not against a 7-day one. The expected dates come from openssl's own -enddate output.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { certificateChecks } from '../../src/cli/doctor.js';
import type { Gateway } from '../../src/gateway.js';
import { certificateProblem, readCertificateFile } from '../../src/metrics/certificates.js';
import { libfaketime } from '../helpers/faketime.js';
import { startTestGateway, tempDir, testConfig, waitFor } from '../helpers/gateway.js';
import { freePort } from '../helpers/kafka.js';

const DAY = 86_400_000;

/** A self-signed certificate valid for `days` from now (or from `at`, under libfaketime); returns its files and openssl's notAfter. */
function makeCert(dir: string, name: string, days: number, at?: string): { cert: string; key: string; notAfter: number } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const args = [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    String(days),
    '-subj',
    `/CN=${name}`,
  ];
  execFileSync('openssl', args, { stdio: 'pipe', env: at ? { ...process.env, LD_PRELOAD: libfaketime(), FAKETIME: `@${at}` } : process.env });
  const end = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-enddate'])
    .toString()
    .trim()
    .replace(/^notAfter=/, '');
  return { cert, key, notAfter: Date.parse(end) };
}

const running: Gateway[] = [];
afterEach(async () => {
  for (const g of running.splice(0)) await g.stop(0);
});

describe('TLS certificate files and their end', () => {
  it('a certificate file counts its first certificate; a CA bundle its earliest-ending one', () => {
    const dir = tempDir();
    const leaf = makeCert(dir, 'leaf', 10);
    const chainCa = makeCert(dir, 'chain-ca', 3);
    const chained = join(dir, 'chained.crt');
    writeFileSync(chained, readFileSync(leaf.cert, 'utf8') + readFileSync(chainCa.cert, 'utf8'));
    const s = readCertificateFile({ use: 'kafka_client', file: chained, ca: false });
    expect(s.notAfter).toBe(leaf.notAfter);
    expect(s.subject).toBe('CN=leaf');

    const long = makeCert(dir, 'long-ca', 400);
    const short = makeCert(dir, 'short-ca', 5);
    const bundle = join(dir, 'bundle.crt');
    writeFileSync(bundle, readFileSync(long.cert, 'utf8') + readFileSync(short.cert, 'utf8'));
    expect(readCertificateFile({ use: 'kafka_ca', file: bundle, ca: true }).notAfter).toBe(short.notAfter);
  });

  it('unreadable, empty and damaged files have no end: a problem, named with the file', () => {
    const dir = tempDir();
    const good = readFileSync(makeCert(dir, 'good', 30).cert, 'utf8');
    const damaged = join(dir, 'damaged.crt');
    writeFileSync(damaged, good.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!'));
    const empty = join(dir, 'empty.crt');
    writeFileSync(empty, 'not a certificate\n');
    const now = Date.now();
    for (const [file, why] of [
      [join(dir, 'absent.crt'), 'cannot read it (ENOENT)'],
      [empty, 'no PEM certificate in it'],
      [damaged, 'a certificate in it cannot be parsed'],
    ] as const) {
      const s = readCertificateFile({ use: 'mqtt_server', file, ca: false });
      expect(s.notAfter).toBeNull();
      expect(certificateProblem(s, now, DAY)).toBe(`mqtt_server ${file}: ${why}`);
    }
  });

  it('ending within the threshold, and ended, are problems; further off is not', () => {
    const dir = tempDir();
    const now = Date.now();
    const ten = readCertificateFile({ use: 'kafka_client', file: makeCert(dir, 'ten', 10).cert, ca: false });
    expect(certificateProblem(ten, now, 21 * DAY)).toMatch(/^kafka_client .*ten\.crt: expires .*, in (9\.9|10\.0) days$/);
    expect(certificateProblem(ten, now, 7 * DAY)).toBeNull();
    const old = makeCert(dir, 'old', 30, '2020-01-01 00:00:00');
    expect(old.notAfter).toBe(Date.parse('2020-01-31T00:00:00Z'));
    const ended = readCertificateFile({ use: 'kafka_client', file: old.cert, ca: false });
    expect(certificateProblem(ended, now, DAY)).toBe(`kafka_client ${old.cert}: expired 2020-01-31T00:00:00.000Z`);
  });

  for (const [threshold, state] of [
    ['21d', 'alert'],
    ['7d', 'ok'],
  ] as const) {
    it(`a live gateway, Kafka's client certificate ending in 10 days, threshold ${threshold}: certificate_expiry ${state}, its end in /metrics`, async () => {
      const dir = tempDir();
      const client = makeCert(dir, 'kafka-client', 10);
      const ca = makeCert(dir, 'kafka-ca', 400);
      const port = await freePort();
      const gw = await startTestGateway(
        testConfig('127.0.0.1:1', join(dir, 'data'), {
          metrics: { port },
          health: { certificateExpiry: threshold },
          kafka: { tls: { enabled: true, ca: ca.cert, cert: client.cert, key: client.key } },
        } as never),
      );
      running.push(gw);
      const get = async (path: string): Promise<string> => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
      const check = JSON.parse(await get('/status')).health.checks.certificate_expiry;
      expect(check.state).toBe(state);
      expect(check.threshold).toBe(threshold === '21d' ? 21 * 86_400 : 7 * 86_400);
      if (state === 'alert') expect(check.detail).toContain(`kafka_client ${client.cert}: expires`);
      const m = await get('/metrics');
      expect(m).toContain(`wardgate_tls_certificate_not_after_seconds{use="kafka_client"} ${client.notAfter / 1000}`);
      expect(m).toContain(`wardgate_tls_certificate_not_after_seconds{use="kafka_ca"} ${ca.notAfter / 1000}`);
      expect(m).toContain(`wardgate_health_alert{check="certificate_expiry"} ${state === 'alert' ? 1 : 0}`);
    });
  }

  it('wardgate doctor: an ended certificate fails, one ending within the threshold warns, a later one is ok', () => {
    const dir = tempDir();
    const ended = makeCert(dir, 'ended', 30, '2020-01-01 00:00:00');
    const soon = makeCert(dir, 'soon', 10);
    const later = makeCert(dir, 'later', 400);
    const cfg = testConfig('127.0.0.1:1', join(dir, 'data'), {
      kafka: { tls: { enabled: true, ca: later.cert, cert: soon.cert, key: soon.key } },
    } as never);
    expect(certificateChecks(cfg).map((c) => [c.name, c.status])).toEqual([
      ['certificate kafka_client', 'warn'],
      ['certificate kafka_ca', 'ok'],
    ]);
    const withEnded = testConfig('127.0.0.1:1', join(dir, 'data'), { kafka: { tls: { enabled: true, cert: ended.cert, key: ended.key } } } as never);
    const [c] = certificateChecks(withEnded);
    expect([c!.status, c!.message]).toEqual(['fail', `kafka_client ${ended.cert}: expired 2020-01-31T00:00:00.000Z`]);
  });

  it('a reload that gives the embedded MQTT broker another certificate: the check reads the new file', async () => {
    const dir = tempDir();
    const later = makeCert(dir, 'broker-later', 400);
    const soon = makeCert(dir, 'broker-soon', 10);
    const port = await freePort();
    const withCert = (c: { cert: string; key: string }) =>
      testConfig('127.0.0.1:1', join(dir, 'data'), {
        metrics: { port },
        devices: {
          mqtt: {
            enabled: true,
            embedded: { tls: { host: '127.0.0.1', port: 0, cert: c.cert, key: c.key }, auth: { anonymous: { publish: ['#'] } } },
          },
        },
      } as never);
    const gw = await startTestGateway(withCert(later));
    running.push(gw);
    const check = async (): Promise<{ state: string; detail: string }> =>
      JSON.parse(await (await fetch(`http://127.0.0.1:${port}/status`)).text()).health.checks.certificate_expiry;
    expect((await check()).state).toBe('ok');
    const r = await gw.reload(withCert(soon));
    expect(r.failed).toEqual([]);
    await waitFor(async () => (await check()).state === 'alert', 10_000, 'the check in alert after the reload');
    const after = await check();
    expect(after.detail).toContain(`mqtt_server ${soon.cert}: expires`);
  });
});
