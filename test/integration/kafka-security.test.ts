/**
 * Security in transit against a real broker of its own (not the shared one): certificates are
 * made here with openssl; the broker gets listeners
 *   PLAINTEXT   ground truth for kcat (Debian's kcat cannot do SCRAM-SHA-512 against Kafka 4.x)
 *   SSL         TLS only, certificate for IP:127.0.0.1 and DNS:localhost
 *   SASL_SSL    TLS + SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
 *   OTHERNAME   TLS with a certificate from the same CA for another name (other.example)
 *   MTLS        TLS that requires a client certificate signed by the CA
 *   EXPIRED     TLS with a certificate from the same CA for the right names, expired in 2020
 * For every client in CLIENTS: the right credentials over TLS deliver (read back via PLAINTEXT);
 * a CA that did not sign the broker certificate, a certificate for another name, an expired
 * broker certificate, and a wrong SASL password are configuration errors; a client certificate
 * from another CA is refused by the MTLS listener. A whole gateway with a wrong SASL password reports a
 * config error (status, state, counter) while readings keep buffering, encrypted; it delivers
 * once the password file is fixed, without a restart; no password appears in its logs or status file.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import { validateConfig } from '../../src/config/load.js';
import { type KafkaClient, KafkaClientError } from '../../src/forwarder/client.js';
import { CLIENTS } from '../../src/forwarder/clients.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { statusFilePath } from '../../src/status-file.js';
import { syntheticPending } from '../forwarder/synthetic.js';
import { type Ca, type Leaf, makeCa, makeLeaf, STORE_PASSWORD } from '../forwarder-client/certs.js';
import { rawBufferBytes, tempDir, testConfig, uniqueTopics, waitFor } from '../helpers/gateway.js';
import { createTopics, freePort, readTopic, run, startBroker, stopBroker } from '../helpers/kafka.js';

const USER = 'wardgate';
const SCRAM_PASSWORD = 'Scram-right-7f3a9c';
const PLAIN_PASSWORD = 'Plain-right-41d2e8';
const WRONG_PASSWORD = 'Wrong-pass-b6e1d0';

interface Env {
  dir: string;
  ca: Ca;
  rogueCa: Ca;
  client: Leaf;
  /** A client certificate for the same name, signed by the rogue CA. */
  rogueClient: Leaf;
  plain: string;
  ssl: string;
  saslSsl: string;
  otherName: string;
  mtls: string;
  expired: string;
  scramPasswordFile: string;
}

/**
 * A server certificate signed by `ca` for the right names that expired on 2020-01-02
 * (`openssl ca` sets the dates; `x509 -req` of OpenSSL 3.0 cannot), with its PKCS12 keystore.
 */
async function makeExpiredLeaf(dir: string, name: string, ca: Ca, san: string): Promise<Leaf> {
  const openssl = (args: string[]) => run('openssl', args, { timeoutMs: 30_000 });
  const db = join(dir, `${name}-db`);
  await mkdir(db);
  await writeFile(join(db, 'index.txt'), '');
  await writeFile(join(db, 'serial'), '7001\n');
  const cnf = join(dir, `${name}.cnf`);
  await writeFile(
    cnf,
    [
      '[ca]',
      'default_ca = c',
      '[c]',
      `database = ${join(db, 'index.txt')}`,
      `serial = ${join(db, 'serial')}`,
      `new_certs_dir = ${db}`,
      'default_md = sha256',
      'policy = p',
      'unique_subject = no',
      '[p]',
      'commonName = supplied',
      '[ext]',
      `subjectAltName = ${san}`,
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage = serverAuth',
      '',
    ].join('\n'),
  );
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  const p12 = join(dir, `${name}.p12`);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  await openssl([
    'ca',
    '-batch',
    '-config',
    cnf,
    '-cert',
    ca.cert,
    '-keyfile',
    ca.key,
    '-in',
    csr,
    '-out',
    cert,
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-extensions',
    'ext',
    '-notext',
  ]);
  await openssl(['pkcs12', '-export', '-in', cert, '-inkey', key, '-certfile', ca.cert, '-name', name, '-out', p12, '-passout', `pass:${STORE_PASSWORD}`]);
  return { cert, key, p12 };
}

let env: Env | null = null;
let brokerDir: string | null = null;

function props(
  dir: string,
  p: Record<'plain' | 'ctrl' | 'ssl' | 'sasl' | 'other' | 'mtls' | 'expired', number>,
  server: Leaf,
  other: Leaf,
  expired: Leaf,
  ca: Ca,
): string {
  const l = (name: string, port: number) => `${name}://127.0.0.1:${port}`;
  const store = (prefix: string, p12: string) => [
    `${prefix}ssl.keystore.type=PKCS12`,
    `${prefix}ssl.keystore.location=${p12}`,
    `${prefix}ssl.keystore.password=${STORE_PASSWORD}`,
    `${prefix}ssl.key.password=${STORE_PASSWORD}`,
  ];
  const advertised = [l('PLAINTEXT', p.plain), l('SSL', p.ssl), l('SASL_SSL', p.sasl), l('OTHERNAME', p.other), l('MTLS', p.mtls), l('EXPIRED', p.expired)];
  const listeners = [advertised[0], l('CONTROLLER', p.ctrl), ...advertised.slice(1)];
  return [
    `listeners=${listeners.join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,OTHERNAME:SSL,MTLS:SSL,EXPIRED:SSL',
    'inter.broker.listener.name=PLAINTEXT',
    ...store('', server.p12),
    ...store('listener.name.othername.', other.p12),
    ...store('listener.name.expired.', expired.p12),
    'listener.name.mtls.ssl.client.auth=required',
    'listener.name.mtls.ssl.truststore.type=PEM',
    `listener.name.mtls.ssl.truststore.location=${ca.cert}`,
    'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${USER}="${PLAIN_PASSWORD}";`,
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;',
    `log.dirs=${join(dir, 'logs')}`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  const dir = await mkdtemp(join(os.tmpdir(), 'wardgate-sec-'));
  const certs = join(dir, 'certs');
  await mkdir(certs);
  const ca = await makeCa(certs, 'wardgate-test-ca');
  const rogueCa = await makeCa(certs, 'rogue-ca');
  const server = await makeLeaf(certs, 'broker', ca, 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const other = await makeLeaf(certs, 'other', ca, 'DNS:other.example', 'serverAuth');
  const client = await makeLeaf(certs, 'gateway-client', ca, 'DNS:wardgate-gateway', 'clientAuth');
  const rogueClient = await makeLeaf(certs, 'rogue-client', rogueCa, 'DNS:wardgate-gateway', 'clientAuth');
  const expired = await makeExpiredLeaf(certs, 'expired', ca, 'IP:127.0.0.1,DNS:localhost');

  const ports = {
    plain: await freePort(),
    ctrl: await freePort(),
    ssl: await freePort(),
    sasl: await freePort(),
    other: await freePort(),
    mtls: await freePort(),
    expired: await freePort(),
  };
  if (new Set(Object.values(ports)).size !== 7) throw new Error('freePort returned the same port twice; rerun');
  const kafkaDir = join(dir, 'kafka');
  const extra = join(dir, 'extra.properties');
  await writeFile(extra, props(kafkaDir, ports, server, other, expired, ca));
  const scramPasswordFile = join(dir, 'kafka-password');
  await writeFile(scramPasswordFile, `${SCRAM_PASSWORD}\n`, { mode: 0o600 });
  brokerDir = kafkaDir;
  const plain = await startBroker({
    dir: kafkaDir,
    env: {
      KAFKA_PORT: String(ports.plain),
      KAFKA_CONTROLLER_PORT: String(ports.ctrl),
      KAFKA_EXTRA_PROPS: extra,
      KAFKA_FORMAT_ARGS:
        `--add-scram 'SCRAM-SHA-256=[name=${USER},password=${SCRAM_PASSWORD}]' --add-scram ` + `'SCRAM-SHA-512=[name=${USER},password=${SCRAM_PASSWORD}]'`,
    },
  });
  const at = (port: number) => `127.0.0.1:${port}`;
  env = {
    dir,
    ca,
    rogueCa,
    client,
    rogueClient,
    plain,
    ssl: at(ports.ssl),
    saslSsl: at(ports.sasl),
    otherName: at(ports.other),
    mtls: at(ports.mtls),
    expired: at(ports.expired),
    scramPasswordFile,
  };
}, 150_000);

afterAll(async () => {
  try {
    if (brokerDir) await stopBroker({ dir: brokerDir });
  } finally {
    if (env) await rm(env.dir, { recursive: true, force: true });
  }
}, 90_000);

function need(): Env {
  if (!env) throw new Error('the security broker did not start (see beforeAll)');
  return env;
}

function clientFor(name: string, brokers: string, kafka: Record<string, unknown>): KafkaClient {
  const cfg = validateConfig({ kafka: { brokers: [brokers], client: name, sendTimeout: 8000, connectTimeout: 5000, ...kafka } }, 'test');
  return CLIENTS[cfg.kafka.client](cfg.kafka, silentLogger());
}

/** Sends one message through `kafka` settings and reads it back through PLAINTEXT. */
async function deliver(name: string, brokers: string, kafka: Record<string, unknown>, tag: string): Promise<void> {
  const e = need();
  const topic = `t.sec.${name}.${tag}.${Date.now().toString(36)}`;
  await createTopics(e.plain, [topic], 1);
  const c = clientFor(name, brokers, kafka);
  try {
    await c.ensureTopics([topic], false, 10_000);
    await c.send([{ topic, messages: [{ key: 'dev-1', value: `hello over ${tag}`, headers: { via: tag } }] }], 10_000);
  } finally {
    await c.close(5000);
  }
  const got = await readTopic(e.plain, topic, { expected: 1, timeoutMs: 20_000 });
  expect(got.map((r) => [r.key, r.value, r.headers.via])).toEqual([['dev-1', `hello over ${tag}`, tag]]);
}

/** The error a connect through `kafka` settings fails with (null if it connects). */
async function refusal(name: string, brokers: string, kafka: Record<string, unknown>): Promise<KafkaClientError | null> {
  const c = clientFor(name, brokers, kafka);
  try {
    await c.connect(8000);
    return null;
  } catch (err) {
    if (!(err instanceof KafkaClientError)) throw err;
    return err;
  } finally {
    await c.close(5000);
  }
}

describe.each(Object.keys(CLIENTS))('Kafka security in transit: %s', (name) => {
  it('TLS with the CA bundle, and SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 over TLS, deliver', async () => {
    const e = need();
    const tls = { ca: e.ca.cert };
    await deliver(name, e.ssl, { tls }, 'tls');
    await deliver(name, e.saslSsl, { tls, sasl: { mechanism: 'plain', username: USER, password: PLAIN_PASSWORD } }, 'plain');
    // Password from the environment (wins over the config value) ...
    process.env.WARDGATE_KAFKA_PASSWORD = SCRAM_PASSWORD;
    try {
      await deliver(name, e.saslSsl, { tls, sasl: { mechanism: 'scram-sha-256', username: USER, password: 'not-this-one' } }, 'scram256');
    } finally {
      delete process.env.WARDGATE_KAFKA_PASSWORD;
    }
    // ... and from a file.
    await deliver(name, e.saslSsl, { tls, sasl: { mechanism: 'scram-sha-512', username: USER, passwordFile: e.scramPasswordFile } }, 'scram512');
  });

  it('a client certificate is sent when configured (mutual TLS)', async () => {
    const e = need();
    await deliver(name, e.mtls, { tls: { ca: e.ca.cert, cert: e.client.cert, key: e.client.key } }, 'mtls');
    // The same listener without a client certificate refuses, so the delivery above used it.
    const err = await refusal(name, e.mtls, { tls: { ca: e.ca.cert } });
    expect(err).not.toBeNull();
  });

  it('a wrong SASL password is a config error that does not contain the password', async () => {
    const e = need();
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512']) {
      const err = await refusal(name, e.saslSsl, { tls: { ca: e.ca.cert }, sasl: { mechanism, username: USER, password: WRONG_PASSWORD } });
      expect(err?.kind, `${mechanism}: ${err?.message}`).toBe('config');
      expect(err!.message).not.toContain(WRONG_PASSWORD);
    }
  });

  it('TLS with a CA that did not sign the broker certificate is a config error', async () => {
    const e = need();
    const err = await refusal(name, e.ssl, { tls: { ca: e.rogueCa.cert } });
    expect(err?.kind, err?.message).toBe('config');
    // Without a CA bundle, Node's public CAs do not know the test CA either.
    const err2 = await refusal(name, e.ssl, { tls: {} });
    expect(err2?.kind, err2?.message).toBe('config');
  });

  it('the server name is checked: a certificate for another name is refused, and accepted when that name is configured', async () => {
    const e = need();
    const err = await refusal(name, e.otherName, { tls: { ca: e.ca.cert } });
    expect(err?.kind, err?.message).toBe('config');
    await deliver(name, e.otherName, { tls: { ca: e.ca.cert, servername: 'other.example' } }, 'servername');
  });

  it('an expired broker certificate (right CA, right names) is a config error naming the expiry', async () => {
    const e = need();
    const err = await refusal(name, e.expired, { tls: { ca: e.ca.cert } });
    expect(err?.kind, err?.message).toBe('config');
    expect(err!.message).toMatch(/expired/i);
  });

  it('a client certificate from another CA (same name) is refused by the mutual TLS listener; nothing is delivered through it', async () => {
    const e = need();
    const rogue = { tls: { ca: e.ca.cert, cert: e.rogueClient.cert, key: e.rogueClient.key } };
    const topic = `t.sec.${name}.rogue.${Date.now().toString(36)}`;
    await createTopics(e.plain, [topic], 1);
    const c = clientFor(name, e.mtls, rogue);
    let refused: unknown = null;
    try {
      await c.connect(8000);
      await c.send([{ topic, messages: [{ key: 'dev-1', value: 'through a rogue certificate', headers: {} }] }], 8000);
    } catch (err) {
      refused = err;
    } finally {
      await c.close(5000);
    }
    expect(refused).toBeInstanceOf(KafkaClientError);
    // The ground truth: nothing reached the topic (read through PLAINTEXT, up to the end of the partition).
    const got = await readTopic(e.plain, topic, { expected: 0, timeoutMs: 5000 });
    expect(got).toEqual([]);
  });
});

const PROBE_BATCHES = 10;
const PROBES_PER_BATCH = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(Object.keys(CLIENTS))('gateway with a wrong SASL password: %s', (name) => {
  it('reports a config error while readings keep buffering, recovers when the password file is fixed, never logs the password', async () => {
    const e = need();
    let logText = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logText += chunk.toString('utf8');
        cb();
      },
    });
    const log = createLogger({ level: 'debug', destination: sink });
    const dir = tempDir('wg-sec-');
    const topics = uniqueTopics(`sec-${name}`);
    await createTopics(e.plain, Object.values(topics), 1);
    const passwordFile = join(dir, 'kafka-password');
    await writeFile(passwordFile, `${WRONG_PASSWORD}\n`, { mode: 0o600 });
    const config = testConfig(e.saslSsl, dir, {
      kafka: {
        client: name as 'kafkajs',
        topics,
        createTopics: false,
        tls: { ca: e.ca.cert },
        sasl: { mechanism: 'scram-sha-512', username: USER, passwordFile },
      },
      devices: { simulator: { enabled: true, beds: 5, interval: 100, seed: 3 } },
    });
    const gw = await startGateway(config, { mode: 'simulate', log, createKeyIfMissing: true });
    let statusDuringError = '';
    let drained = false;
    try {
      await waitFor(() => gw.forwarder.status().configError !== null, 30_000, 'a config error to be reported');
      const s = gw.forwarder.status();
      expect(s.state).toBe('offline');
      expect(s.reason).toMatch(/^config_error/);
      expect(await gw.events.count('kafka_config_error')).toBeGreaterThanOrEqual(1);
      expect(s.forwarded).toBe(0);

      // Readings keep coming and stay in the buffer, encrypted. The test offers a backlog of its own
      // during the error (each append acknowledged to it): all of it must reach Kafka after the fix.
      for (let b = 0; b < PROBE_BATCHES; b++) {
        await gw.buffer.append(
          Array.from({ length: PROBES_PER_BATCH }, (_, k) => ({ ...syntheticPending(k, { devices: 1 }), deviceId: `sasl-probe-${b * PROBES_PER_BATCH + k}` })),
        );
        await sleep(100);
      }
      expect(gw.forwarder.status().configError).not.toBeNull();
      const raw = rawBufferBytes(dir).toString('latin1');
      for (const needle of ['SIMPAT-', 'sim-monitor-', 'BED-0']) expect(raw.includes(needle), `${needle} in clear on disk`).toBe(false);

      // `wardgate status` shows it (the status file is rewritten every second).
      await waitFor(
        async () => {
          statusDuringError = await readFile(statusFilePath(dir), 'utf8').catch(() => '');
          return /config_error/.test(statusDuringError);
        },
        10_000,
        'the status file to show the config error',
      );
      // No tight loop of config errors (the forwarder retries at its slowest backoff).
      expect(await gw.events.count('kafka_config_error')).toBeLessThan(30);
      // Nothing reached Kafka (ground truth through PLAINTEXT).
      expect((await readTopic(e.plain, topics.vital, { timeoutMs: 15_000 })).length).toBe(0);

      // The operator fixes the password file: the gateway picks it up without a restart and drains.
      await writeFile(passwordFile, `${SCRAM_PASSWORD}\n`);
      await waitFor(
        () => gw.forwarder.status().forwarded > 0 && gw.forwarder.status().configError === null,
        45_000,
        'delivery after the password file was fixed',
      );
    } finally {
      drained = await gw.stop(20_000);
    }
    expect(drained, 'the backlog drained before the stop').toBe(true);
    const probes = PROBE_BATCHES * PROBES_PER_BATCH;
    const delivered = await readTopic(e.plain, topics.vital, { expected: probes, timeoutMs: 30_000 });
    // The backlog the test built during the config error arrives in full (kcat through PLAINTEXT).
    const probesSeen = new Set(delivered.map((r) => r.key ?? '').filter((k) => k.startsWith('sasl-probe-')));
    const lost = Array.from({ length: probes }, (_, i) => `sasl-probe-${i}`).filter((k) => !probesSeen.has(k));
    expect(
      lost.slice(0, 10),
      `${lost.length} of the ${probes} readings appended during the config error missing in Kafka (${delivered.length} records on the topic)`,
    ).toEqual([]);
    expect(delivered.every((r) => r.headers['wardgate-gateway-id'] === gw.gatewayId)).toBe(true);

    expect(logText).toMatch(/config/i);
    expect(logText.length).toBeGreaterThan(200);
    const status = statusDuringError + (await readFile(statusFilePath(dir), 'utf8'));
    for (const secret of [WRONG_PASSWORD, SCRAM_PASSWORD, PLAIN_PASSWORD]) {
      expect(logText.includes(secret), 'password in the logs').toBe(false);
      expect(status.includes(secret), 'password in the status file').toBe(false);
    }
  });
});

describe('wardgate doctor: the Kafka login (issue 14 item 3)', () => {
  it('logs in as the gateway would: plaintext and SASL over TLS with the right password pass, a wrong password fails without showing it', async () => {
    const e = need();
    const dir = tempDir();
    const login = async (brokers: string, kafka: Record<string, unknown>) => {
      const c = validateConfig({ gateway: { dataDir: join(dir, 'data') }, kafka: { brokers: [brokers], connectTimeout: 8000, ...kafka } }, 'test');
      const checks = await runDoctor(c, join(dir, 'none.key'), join(dir, 'data'), async () => true);
      return checks.find((k) => k.name === 'kafka login');
    };
    expect(await login(e.plain, {})).toMatchObject({ status: 'ok' });
    const tls = { ca: e.ca.cert };
    expect(await login(e.saslSsl, { tls, sasl: { mechanism: 'scram-sha-512', username: USER, passwordFile: e.scramPasswordFile } })).toMatchObject({
      status: 'ok',
      message: expect.stringContaining('SASL scram-sha-512'),
    });
    const wrong = await login(e.saslSsl, { tls, sasl: { mechanism: 'scram-sha-512', username: USER, password: WRONG_PASSWORD } });
    expect(wrong).toMatchObject({ status: 'fail', fix: expect.stringContaining('kafka.sasl') });
    expect(JSON.stringify(wrong)).not.toContain(WRONG_PASSWORD);
    // A CA that did not sign the broker's certificate: refused too.
    expect(await login(e.ssl, { tls: { ca: e.rogueCa.cert } })).toMatchObject({ status: 'fail' });
  });
});
