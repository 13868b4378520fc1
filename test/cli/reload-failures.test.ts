/**
 * SIGHUP when the new settings cannot be used (issue 14 item 8: "a bad new file keeps the old
 * configuration running and says why"), on the real `wardgate run` with its embedded MQTT broker
 * (Kafka down):
 *  - a users file that is not private, then one that does not validate: the reload is refused
 *    and says why (without quoting the file); the users the test had (alice, bob) keep logging in, the new one does not;
 *  - a listener moved to a port the test holds: the MQTT family cannot start there, is started
 *    again on its old port (a new login and a publish there are committed) and the log says so;
 *    once the test frees the port, the next SIGHUP moves it (the kept settings were retried).
 * What the test counts: logins it made, readings it published and found in the buffer file.
 */

import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function listen(): Promise<Server> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return s;
}
const portOf = (s: Server): number => (s.address() as { port: number }).port;

function config(data: string, keyFile: string, port: number, usersFile: string): string {
  return (
    `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n` +
    `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${port} }\n      auth:\n        usersFile: ${usersFile}\n` +
    '    rules:\n      - { name: ox, topic: "ox/{bed}/{device}", metric: spo2, unit: "%", decoder: { type: text } }\n'
  );
}

describe('SIGHUP with settings that cannot be used (wardgate run)', () => {
  it('a bad users file keeps the old users; a listener that cannot start keeps the old one and is retried on the next reload', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const hash = new Map<string, string>();
    for (const u of ['alice', 'bob', 'carol']) hash.set(u, await hashPassword(`pw-${u}`));
    const user = (u: string): string => `  - { username: ${u}, passwordHash: "${hash.get(u)}", publish: ["#"] }\n`;
    const usersFile = join(dir, 'users.yaml');
    writeFileSync(usersFile, `users:\n${user('alice')}${user('bob')}`);
    chmodSync(usersFile, 0o600);
    // Two free ports: the gateway's first listener, and one the test holds for now.
    const first = await listen();
    const port1 = portOf(first);
    await new Promise((r) => first.close(r));
    const held = await listen();
    const port2 = portOf(held);
    cleanup.push(() => held.listening && new Promise((r) => held.close(r)));
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, config(data, keyFile, port1, usersFile));
    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    await waitFor(() => c.stderr().includes('"msg":"wardgate started"') || c.proc.exitCode !== null, 60_000, 'the start');
    expect(c.proc.exitCode, c.stderr()).toBeNull();

    const lines = (msg: string): Record<string, unknown>[] =>
      c
        .stderr()
        .split('\n')
        .filter((l) => l.includes(`"msg":"${msg}`))
        .map((l) => JSON.parse(l));
    const login = (u: string, port: number): Promise<MqttClient> =>
      connectAsync(`mqtt://127.0.0.1:${port}`, { username: u, password: `pw-${u}`, clientId: `c-${u}-${Math.random()}`, reconnectPeriod: 0 });
    // The login limiter answers CONNACK 3 (server unavailable) for a while after a failed login from
    // this address (backoff from 1 s): such an answer says nothing of the credentials, so it is retried.
    const answer = async (u: string, port: number): Promise<'admitted' | 'refused'> => {
      for (let i = 0; ; i++) {
        try {
          const cl = await login(u, port);
          await cl.endAsync(true);
          return 'admitted';
        } catch (e) {
          if (/Bad username or password|Not authorized/i.test(String(e))) return 'refused';
          if (!/Server unavailable/i.test(String(e)) || i >= 100) throw e;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    };
    const ok = async (u: string, port: number): Promise<void> => expect(await answer(u, port)).toBe('admitted');
    const buffered = (): number => readBufferStats(data)?.totalReadings ?? 0;
    const hup = async (msg: string, n: number, what: string): Promise<void> => {
      c.proc.kill('SIGHUP');
      await waitFor(() => lines(msg).length >= n || c.proc.exitCode !== null, 30_000, what);
      expect(c.proc.exitCode, c.stderr()).toBeNull();
    };
    const refused = 'SIGHUP: the configuration file is not valid; the running configuration stays';

    // 1. A users file readable by others (bob removed, carol added): refused, the old users stay.
    writeFileSync(usersFile, `users:\n${user('alice')}${user('carol')}`);
    chmodSync(usersFile, 0o644);
    await hup(refused, 1, 'the refusal of the readable users file');
    expect(String(lines(refused)[0]!.error)).toMatch(/mqtt users file/);
    await ok('bob', port1);
    expect(await answer('carol', port1)).toBe('refused');

    // 2. A private users file that does not validate (carol's password written in clear, not hashed): refused, says which field.
    writeFileSync(usersFile, `users:\n${user('alice')}  - { username: carol, passwordHash: "pw-carol", publish: ["#"] }\n`);
    chmodSync(usersFile, 0o600);
    await hup(refused, 2, 'the refusal of the invalid users file');
    expect(String(lines(refused)[1]!.error)).toMatch(/mqtt users file .*passwordHash/);
    expect(c.stderr()).not.toContain('pw-carol');
    await ok('bob', port1);
    expect(await answer('carol', port1)).toBe('refused');

    // 3. The users back as they were, the listener moved to the port the test holds: the family
    //    cannot start there and runs again on its old port.
    writeFileSync(usersFile, `users:\n${user('alice')}${user('bob')}`);
    writeFileSync(cfg, config(data, keyFile, port2, usersFile));
    const couldNot = 'SIGHUP: a device family could not take its new settings';
    await hup(couldNot, 1, 'the failed family');
    expect(lines(couldNot)[0]!.family).toBe('mqtt');
    await waitFor(
      () =>
        login('alice', port1).then(
          (cl) => cl.endAsync(true).then(() => true),
          () => false,
        ),
      20_000,
      'the old listener back',
    );
    const alice = await login('alice', port1);
    cleanup.push(() => alice.endAsync(true));
    for (let i = 0; i < 4; i++) await alice.publishAsync('ox/1/ox-a', String(95 + i), { qos: 1 });
    await waitFor(() => buffered() >= 4, 20_000, 'the readings on the old port committed');
    expect(buffered()).toBe(4);
    await alice.endAsync(true);

    // 4. The port free again: the same file, a new SIGHUP, and the listener moves.
    await new Promise((r) => held.close(r));
    await hup('SIGHUP: applied', 1, 'the move applied');
    expect(lines('SIGHUP: applied')[0]!.restarted).toEqual(['mqtt']);
    await ok('alice', port2);
    await expect(login('alice', port1)).rejects.toThrow(/ECONNREFUSED/);

    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    const audit = readFileSync(join(data, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; detail?: { failed?: string[] } });
    expect(audit.filter((a) => a.event === 'config_reload_refused')).toHaveLength(2);
    expect(audit.filter((a) => a.event === 'config_changed').map((a) => a.detail?.failed ?? [])).toEqual([['mqtt'], []]);
  }, 120_000);
});
