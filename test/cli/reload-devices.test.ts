/**
 * SIGHUP applies the device list and the MQTT users to the running process (`wardgate run`,
 * Kafka down, embedded MQTT broker): a new topic rule is accepted and committed, a removed one
 * no longer is, a removed user's open session is closed and its new logins refused, a kept
 * user's session stays. What the test counts: the messages it published, and the readings the
 * buffer holds (read from the database file, not from the gateway's counters).
 */

import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';
import { freePort } from '../helpers/ports.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const rule = (name: string) => `      - { name: ${name}, topic: "${name}/{bed}/{device}", metric: spo2, unit: "%", decoder: { type: text } }\n`;

function config(data: string, keyFile: string, port: number, usersFile: string, rules: string[]): string {
  return (
    `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n` +
    `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${port} }\n      auth:\n        usersFile: ${usersFile}\n` +
    `    rules:\n${rules.map(rule).join('')}`
  );
}

const hashes = new Map<string, string>();
/** The users file; a user keeps the same hash from one version to the next (a new salt would be a changed user). */
async function usersYaml(users: string[]): Promise<string> {
  for (const u of users) if (!hashes.has(u)) hashes.set(u, await hashPassword(`pw-${u}`));
  return `users:\n${users.map((u) => `  - { username: ${u}, passwordHash: "${hashes.get(u)}", publish: ["#"] }\n`).join('')}`;
}

describe('SIGHUP reload of devices and MQTT users (wardgate run)', () => {
  it('a new rule is committed, a removed one is not; a removed user is disconnected and refused, a kept one stays', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const usersFile = join(dir, 'users.yaml');
    writeFileSync(usersFile, await usersYaml(['alice', 'bob']));
    chmodSync(usersFile, 0o600);
    const port = await freePort();
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, config(data, keyFile, port, usersFile, ['old']));
    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    await waitFor(() => c.stderr().includes('"msg":"wardgate started"') || c.proc.exitCode !== null, 60_000, 'the start');
    expect(c.proc.exitCode, c.stderr()).toBeNull();

    const url = `mqtt://127.0.0.1:${port}`;
    const login = (u: string): Promise<MqttClient> =>
      connectAsync(url, { username: u, password: `pw-${u}`, clientId: `c-${u}-${Math.random()}`, reconnectPeriod: 0 });
    const buffered = (): number => readBufferStats(data)?.totalReadings ?? 0;
    const publish = async (client: MqttClient, topic: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await client.publishAsync(topic, String(90 + (i % 9)), { qos: 1 });
    };

    const alice = await login('alice');
    const bob = await login('bob');
    cleanup.push(
      () => alice.endAsync(true),
      () => bob.endAsync(true),
    );
    let bobClosed = false;
    bob.on('close', () => {
      bobClosed = true;
    });
    // Before: 'old' is a rule, 'new' is not (acknowledged, not committed).
    await publish(alice, 'old/1/ox', 5);
    await publish(alice, 'new/1/ox', 4);
    await waitFor(() => buffered() >= 5, 20_000, 'the old rule committed');
    expect(buffered()).toBe(5);

    // Reload: rule 'old' removed, 'new' added; bob removed from the users file.
    writeFileSync(cfg, config(data, keyFile, port, usersFile, ['new']));
    writeFileSync(usersFile, await usersYaml(['alice']));
    c.proc.kill('SIGHUP');
    await waitFor(() => c.stderr().includes('"msg":"SIGHUP: applied"'), 20_000, 'the reload');
    const applied = JSON.parse(
      c
        .stderr()
        .split('\n')
        .find((l) => l.includes('"msg":"SIGHUP: applied"'))!,
    );
    expect(applied.applied).toEqual(['devices.mqtt.rules']);
    expect(applied.reconfigured).toEqual(['mqtt']);
    await waitFor(() => bobClosed, 10_000, "bob's session closed");
    await expect(login('bob')).rejects.toThrow(/Bad username or password|Not authorized/i);

    // Alice's session was never closed: the same connection publishes under the new rules.
    expect(alice.connected).toBe(true);
    await publish(alice, 'new/1/ox', 3);
    await publish(alice, 'old/1/ox', 6);
    await waitFor(() => buffered() >= 8, 20_000, 'the new rule committed');
    // A late reading of the removed rule would show here; a final reading on 'new' orders it after the 'old' ones.
    await publish(alice, 'new/1/ox', 1);
    await waitFor(() => buffered() >= 9, 20_000, 'the last one');
    expect(buffered()).toBe(9);

    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    // bob's revoked session is in the audit trail.
    expect(c.stderr()).toContain('credentials_revoked');
  }, 90_000);
});
