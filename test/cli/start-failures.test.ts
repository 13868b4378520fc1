/**
 * A failed start stops everything it had started and exits: 2 when the configuration is wrong
 * (a host this machine does not have, a key file lacking a key the buffer needs, a data folder
 * that cannot be used), 1 for a runtime condition (a port someone else holds). The shipped
 * command (bin/wardgate.js on the compiled sources) is run as systemd would run it; each test
 * waits for the process to exit (the test's own timeout is the bound: today's code never exits).
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE, LOCK_FILE, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading } from '../../src/reading.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import type { CliChild } from '../helpers/gateway.js';
import { tempDir } from '../helpers/gateway.js';

const children: CliChild[] = [];
const servers: Server[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function bin(args: string[], env: NodeJS.ProcessEnv = {}, opts: { uid?: number; gid?: number } = {}) {
  const c = spawnBin(args, env, opts);
  children.push(c);
  const code = await c.exited;
  return { code, out: c.stdout(), err: c.stderr() };
}

/** A TCP port someone else holds for the whole test file. */
async function takenPort(): Promise<number> {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

/** A data folder with a key file and a config running the simulator (the half-working case) against an unreachable Kafka. */
function setup(extra = ''): { dir: string; data: string; cfg: string; key: string } {
  const dir = tempDir('wg-start-');
  const data = join(dir, 'data');
  const key = join(dir, 'k.key');
  generateKeyFile(key);
  const cfg = join(dir, 'c.yaml');
  writeFileSync(
    cfg,
    `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${key}\nkafka:\n  brokers: ["127.0.0.1:1"]\ndevices:\n  simulator:\n    enabled: true\n    ` +
      `beds: 2\n    interval: 100ms\n${extra}`,
  );
  return { dir, data, cfg, key };
}

/** A buffer in the setup's data folder holding one reading (a backlog sealed with the setup's key). */
async function backlogOfOne(s: { data: string; key: string }, gatewayId: string): Promise<void> {
  const buf = await openBuffer({ dir: s.data, keyFile: s.key, gatewayId, events: new Events(silentLogger()), log: silentLogger() });
  await buf.append([
    {
      deviceId: 'm1',
      deviceKind: 'simulator',
      bed: 'b1',
      metric: 'heart_rate',
      value: 70,
      unit: '/min',
      gatewayTime: Date.now(),
      priorityClass: 'vital',
      quality: [],
    },
  ]);
  await buf.close();
}

/**
 * After a failed start nothing is left behind: the process ended by itself (not by the command's
 * last-resort exit for an open handle), the buffer lock is released and the status file says stopped.
 */
function leftNothingRunning(data: string, stderr: string): void {
  expect(stderr).not.toMatch(/still running after everything was stopped/);
  expect(existsSync(join(data, LOCK_FILE))).toBe(false);
  if (existsSync(join(data, 'status.json'))) {
    const s = JSON.parse(readFileSync(join(data, 'status.json'), 'utf8')) as { stoppedAt?: number };
    expect(s.stoppedAt).toBeTypeOf('number');
  }
}

describe('a failed start exits', () => {
  it('metrics port already taken: exit 1 (runtime), devices and forwarder stopped, lock released', async () => {
    const port = await takenPort();
    const s = setup(`metrics:\n  host: 127.0.0.1\n  port: ${port}\n`);
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/cannot start: .*EADDRINUSE/);
    leftNothingRunning(s.data, r.err);
  });

  it('embedded MQTT port already taken: exit 1, lock released', async () => {
    const port = await takenPort();
    const s = setup(
      `  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${port} }\n      auth:\n        anonymous: { publish: ['ward/#'] }\n`,
    );
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/EADDRINUSE/);
    leftNothingRunning(s.data, r.err);
  });

  it('a metrics.host this machine does not have: config check and run exit 2 naming metrics.host', async () => {
    const s = setup('metrics:\n  host: 192.0.2.1\n  port: 9464\n'); // TEST-NET-1: never a local address
    const c = await bin(['config', 'check', s.cfg]);
    expect(c.code, c.out).toBe(2);
    expect(c.err).toMatch(/metrics\.host: "192\.0\.2\.1" .*not an address of this machine/);
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/EADDRNOTAVAIL/);
    leftNothingRunning(s.data, r.err);
  });

  it('a key file lacking the key id the backlog uses: exit 2 naming the ids, nothing quarantined', async () => {
    const s = setup();
    const buf = await openBuffer({ dir: s.data, keyFile: s.key, gatewayId: 'gw-keys', events: new Events(silentLogger()), log: silentLogger() });
    const t = Date.now();
    const rs: PendingReading[] = Array.from({ length: 305 }, (_, i) => ({
      deviceId: 'm1',
      deviceKind: 'simulator',
      bed: 'b1',
      metric: 'heart_rate',
      value: 60 + (i % 20),
      unit: '/min',
      gatewayTime: t + i,
      priorityClass: 'vital',
      quality: [],
    }));
    await buf.append(rs);
    await buf.close();
    generateKeyFile(s.key, { rotate: true });
    const doc = JSON.parse(readFileSync(s.key, 'utf8')) as { keys: { id: number }[] };
    doc.keys = doc.keys.filter((k) => k.id !== 1);
    writeFileSync(s.key, JSON.stringify(doc), { mode: 0o600 });
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/lacks key id 1\b.*needs key ids 1\b/s);
    leftNothingRunning(s.data, r.err);
    const st = await bin(['status', '--data', s.data, '--json']);
    const j = JSON.parse(st.out) as { buffer: { quarantined: number; totalReadings: number } };
    expect(j.buffer.quarantined).toBe(0);
    expect(j.buffer.totalReadings).toBe(305);
  });

  it('no key file, or one holding plain base64: exit 2, and not a byte of the key in the message', async () => {
    const s = setup();
    const missing = join(s.dir, 'none.key');
    const r1 = await bin(['run', '--config', s.cfg], { WARDGATE_KEY_FILE: missing });
    expect(r1.code, r1.err).toBe(2);
    expect(r1.err).toMatch(/does not exist/);
    const key = randomBytes(32).toString('base64');
    writeFileSync(s.key, `${key}\n`, { mode: 0o600 });
    const r2 = await bin(['run', '--config', s.cfg]);
    expect(r2.code, r2.err).toBe(2);
    expect(r2.err).toMatch(/not valid JSON/);
    for (let i = 0; i + 6 <= key.length; i++) expect(r2.err + r2.out).not.toContain(key.slice(i, i + 6));
  });

  it('a data folder that cannot be used (a file in its place): exit 2', async () => {
    const s = setup();
    writeFileSync(s.data, 'not a folder');
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/data folder .* cannot be used/);
  });

  it('status by a user who cannot read the data folder says it cannot read it (not "no buffer")', async () => {
    const s = setup();
    const buf = await openBuffer({ dir: s.data, keyFile: s.key, gatewayId: 'gw-perm', events: new Events(silentLogger()), log: silentLogger() });
    await buf.close();
    // As root the command runs as nobody; otherwise the folder is made unreadable for its owner too.
    const asRoot = process.getuid?.() === 0;
    const opts = asRoot ? { uid: 65534, gid: 65534 } : {};
    if (!asRoot) chmodSync(s.data, 0o000);
    const r = await bin(['status', '--data', s.data], {}, opts);
    expect(r.out).toMatch(/cannot read the data folder/);
    expect(r.out).not.toMatch(/no buffer database/);
    expect(r.code).toBe(2);
    if (!asRoot) chmodSync(s.data, 0o700);
  });

  it('environment overrides are checked by config check and run (exit 2 naming the variable)', async () => {
    const s = setup();
    const c = await bin(['config', 'check', s.cfg], { WARDGATE_KAFKA_BROKERS: ',,,' });
    expect(c.code, c.out).toBe(2);
    expect(c.err).toMatch(/kafka\.brokers.*\(from WARDGATE_KAFKA_BROKERS\)/);
    const r = await bin(['run', '--config', s.cfg], { WARDGATE_KAFKA_BROKERS: 'k:65536' });
    expect(r.code, r.err).toBe(2);
    expect(existsSync(s.data)).toBe(false); // refused before anything started
  });

  it('a Kafka password in the environment with no kafka.sasl block is reported at start (never the password)', async () => {
    const s = setup();
    const r = await bin(['simulate', '--config', s.cfg, '--duration', '300ms', '--drain-timeout', '100ms', '--no-live'], {
      WARDGATE_KAFKA_PASSWORD: 'pw-env-5e1d0c',
    });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/WARDGATE_KAFKA_PASSWORD is set but kafka\.sasl is not configured/);
    expect(r.err + r.out).not.toContain('pw-env-5e1d0c');
    const c = await bin(['config', 'check', s.cfg], { WARDGATE_KAFKA_PASSWORD: 'pw-env-5e1d0c' });
    expect(c.code).toBe(0);
    expect(c.out).toMatch(/WARDGATE_KAFKA_PASSWORD is set but kafka\.sasl is not configured/);
  });

  it('a group-readable MQTT users file or Kafka password file: config check exit 2 naming the setting; run exit 2 for the users file', async () => {
    const users = join(tempDir('wg-users-'), 'users.yaml');
    writeFileSync(users, 'users:\n  - username: nurse\n    publish: ["ward/#"]\n', { mode: 0o644 });
    chmodSync(users, 0o644);
    const s = setup(
      `  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${await takenPort()} }\n      auth:\n        usersFile: ${users}\n`,
    );
    const c = await bin(['config', 'check', s.cfg]);
    expect(c.code, c.out).toBe(2);
    expect(c.err).toMatch(/devices\.mqtt\.embedded\.auth\.usersFile: .*accessible by group or others/);
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/mqtt users file .* accessible by group or others/);
    leftNothingRunning(s.data, r.err);
    const pw = join(tempDir('wg-pw-'), 'kafka.pw');
    writeFileSync(pw, 'pw-3c1\n');
    chmodSync(pw, 0o640);
    const k = setup();
    writeFileSync(
      k.cfg,
      `gateway:\n  dataDir: ${k.data}\nbuffer:\n  keyFile: ${k.key}\nkafka:\n  brokers: ["127.0.0.1:1"]\n  tls: {}\n  sasl:\n    mechanism: ` +
        `scram-sha-512\n    username: u\n    passwordFile: ${pw}\n`,
    );
    const kc = await bin(['config', 'check', k.cfg]);
    expect(kc.code, kc.out + kc.err).toBe(2);
    expect(kc.err).toMatch(/kafka\.sasl\.passwordFile: .*accessible by group or others/);
    expect(kc.err).not.toContain('pw-3c1');
  });

  it('a group-readable password file of an external MQTT broker: config check and run exit 2 naming it', async () => {
    const pw = join(tempDir('wg-xpw-'), 'broker.pw');
    writeFileSync(pw, 'pw-9d2\n');
    chmodSync(pw, 0o644);
    const s = setup(
      `  mqtt:\n    enabled: true\n    external:\n      - name: hospital\n        url: mqtt://127.0.0.1:1\n        clientId: wg-test\n        ` +
        `username: wg\n        passwordFile: ${pw}\n        subscriptions: ["ward/#"]\n`,
    );
    const c = await bin(['config', 'check', s.cfg]);
    expect(c.code, c.out).toBe(2);
    expect(c.err).toMatch(/devices\.mqtt\.external\[0\]\.passwordFile: .*accessible by group or others/);
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/passwordFile .*accessible by group or others/);
    expect(r.err + c.err).not.toContain('pw-9d2');
    leftNothingRunning(s.data, r.err);
  });

  it('an external MQTT broker URL with a port outside 1-65535 is refused by config check', async () => {
    const s = setup(
      `  mqtt:\n    enabled: true\n    external:\n      - name: hospital\n        url: mqtt://127.0.0.1:0\n        clientId: wg-test\n        ` +
        `subscriptions: ["ward/#"]\n`,
    );
    const c = await bin(['config', 'check', s.cfg]);
    expect(c.code, c.out).toBe(2);
    expect(c.err).toMatch(/devices\.mqtt\.external\[0\]\.url: the port must be from 1 to 65535/);
  });

  it('keygen --remove by a user who cannot read the data folder refuses (exit 2) instead of removing a key the backlog needs', async () => {
    const s = setup();
    await backlogOfOne(s, 'gw-rm');
    generateKeyFile(s.key, { rotate: true }); // key 2 active; key 1 seals the backlog
    const asRoot = process.getuid?.() === 0;
    let key = s.key;
    if (asRoot) {
      // The key file (and its folder) belong to the user running the command; the data folder stays root's (0700).
      chmodSync(s.dir, 0o755);
      const kd = join(s.dir, 'kd');
      mkdirSync(kd, { mode: 0o700 });
      key = join(kd, 'k.key');
      writeFileSync(key, readFileSync(s.key), { mode: 0o600 });
      chownSync(kd, 65534, 65534);
      chownSync(key, 65534, 65534);
    } else chmodSync(s.data, 0o000);
    const r = await bin(['keygen', '--key-file', key, '--data', s.data, '--remove', '1'], {}, asRoot ? { uid: 65534, gid: 65534 } : {});
    if (!asRoot) chmodSync(s.data, 0o700);
    expect(r.code, r.out + r.err).toBe(2);
    expect(r.err).toMatch(/cannot read the buffer/);
    const doc = JSON.parse(readFileSync(key, 'utf8')) as { keys: { id: number }[] };
    expect(doc.keys.map((k) => k.id)).toEqual([1, 2]);
  });

  it('a buffer database this user may not open (left by root, say): exit 2 naming it, the file left as it was, nothing moved aside', async () => {
    const s = setup();
    await backlogOfOne(s, 'gw-owner');
    const db = join(s.data, DB_FILE);
    const before = { bytes: readFileSync(db), files: readdirSync(s.data).sort() };
    // As root the command runs as nobody, owning everything but the database (root's, 0600);
    // otherwise the database is made unreadable for its owner.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(s.dir, 0o755);
      for (const p of [s.data, s.key, s.cfg]) chownSync(p, 65534, 65534);
    } else chmodSync(db, 0o000);
    const r = await bin(['run', '--config', s.cfg], {}, asRoot ? { uid: 65534, gid: 65534 } : {});
    if (!asRoot) chmodSync(db, 0o600);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/buffer's database .*buffer\.db cannot be opened .*nothing was changed/);
    // Not taken for damage: no copy moved aside (whose backlog this user could not salvage), no new database.
    expect(readdirSync(s.data).filter((f) => f.startsWith(DB_FILE))).toEqual(before.files.filter((f) => f.startsWith(DB_FILE)));
    expect(readFileSync(db).equals(before.bytes)).toBe(true);
    leftNothingRunning(s.data, r.err);
  });

  it('a TLS certificate file the configuration names that does not exist: exit 2, nothing left running', async () => {
    const missing = join(tempDir('wg-tls-'), 'none.pem');
    const s = setup(
      `  mqtt:\n    enabled: true\n    embedded:\n      tls: { host: 127.0.0.1, port: ${await takenPort()}, cert: ${missing}, key: ${missing} }\n      ` +
        `auth:\n        anonymous: { publish: ['ward/#'] }\n`,
    );
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/ENOENT|does not exist/);
    leftNothingRunning(s.data, r.err);
  });

  it('a group- or world-readable TLS private key (embedded MQTT listener, external MQTT broker, Kafka client): config check and run exit 2 naming the ' +
    'file, never its content', async () => {
    const d = tempDir('wg-tlskey-');
    // Not a real key: the refusal must come before the file is read, and its content never be echoed.
    const keyFile = (name: string, mode: number): string => {
      const f = join(d, name);
      writeFileSync(f, '-----BEGIN PRIVATE KEY-----\nTLSKEYSECRET7f3a\n-----END PRIVATE KEY-----\n');
      chmodSync(f, mode);
      return f;
    };
    const cert = join(d, 'c.pem');
    writeFileSync(cert, 'not a certificate\n');
    const keys = {
      'kafka.tls.key': keyFile('kafka-client.key', 0o644),
      'devices.mqtt.embedded.tls.key': keyFile('mqtt-listener.key', 0o640),
      'devices.mqtt.external[0].tls.key': keyFile('mqtt-external.key', 0o604),
    };
    const s = setup();
    writeFileSync(
      s.cfg,
      [
        `gateway:\n  dataDir: ${s.data}\nbuffer:\n  keyFile: ${s.key}`,
        `kafka:\n  brokers: ["127.0.0.1:1"]\n  tls: { cert: ${cert}, key: ${keys['kafka.tls.key']} }`,
        `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tls: { host: 127.0.0.1, port: 8883, cert: ${cert}, key: ` +
          `${keys['devices.mqtt.embedded.tls.key']} }`,
        `      auth:\n        anonymous: { publish: ['ward/#'] }`,
        `    external:\n      - name: hospital\n        url: mqtts://127.0.0.1:1\n        clientId: wg-test\n        subscriptions: ["ward/#"]`,
        `        tls: { cert: ${cert}, key: ${keys['devices.mqtt.external[0].tls.key']} }\n`,
      ].join('\n'),
    );
    const check = await bin(['config', 'check', s.cfg]);
    expect(check.code, check.out + check.err).toBe(2);
    for (const [setting, file] of Object.entries(keys)) expect(check.err).toContain(`${setting}: ${setting} ${file} is accessible by group or others`);
    const r = await bin(['run', '--config', s.cfg]);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(/(kafka|devices\.mqtt\.[a-z[\]0-9.]+)\.tls\.key: TLS private key \S+\.key is accessible by group or others/);
    expect(r.out + r.err + check.out + check.err).not.toContain('TLSKEYSECRET');
    leftNothingRunning(s.data, r.err);
    // The same files at mode 0600 are not refused for their mode.
    for (const file of Object.values(keys)) chmodSync(file, 0o600);
    const ok = await bin(['config', 'check', s.cfg]);
    expect(ok.err).not.toMatch(/tls\.key.*accessible/);
  }, 60_000);
});
