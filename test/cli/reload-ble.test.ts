/**
 * SIGHUP with a changed BLE device list (issue 14 item 8), on the real `wardgate run` (Kafka
 * down) over the simulated HCI controller on a socat pty pair with two wearables: a wearable
 * added to the allow-list by a reload is connected and read, one removed is no longer; the
 * family is restarted, the rest of the gateway is not. Observed from the wearables' side: the
 * controller's ground truth lists every value a peripheral sent, and a peripheral sends only to a
 * host that connected and subscribed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeWearables } from '../../hardware-mocks/ble/peripherals.js';
import { BleWorld } from '../../hardware-mocks/ble/world.js';
import { readBufferStats } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('SIGHUP reload of the BLE device list (wardgate run)', () => {
  it('an added wearable is connected and read after the reload, a removed one no longer', async () => {
    const dir = tempDir();
    const truth = join(dir, 'truth.jsonl');
    const [a, b] = makeWearables(2, 7, { intervalMs: 250 });
    const world = new BleWorld({ dir, peripherals: [a!, b!], maxConnections: 7, truthFile: truth });
    await world.powerOn();
    cleanup.push(() => world.close());
    const sent = (address: string): number =>
      existsSync(truth)
        ? readFileSync(truth, 'utf8')
            .split('\n')
            .filter((l) => l.includes(`"address":"${address}"`)).length
        : 0;

    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    const config = (wearables: { address: string }[]): string =>
      `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n` +
      `devices:\n  ble:\n    enabled: true\n    hci: { uart: { port: ${world.hostPort} } }\n    devices:\n` +
      wearables.map((w, i) => `      - { address: "${w.address}", bed: BED-0${i + 1} }\n`).join('');
    writeFileSync(cfg, config([a!]));
    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    const applied = (): Record<string, unknown>[] =>
      c
        .stderr()
        .split('\n')
        .filter((l) => l.includes('"msg":"SIGHUP: applied"'))
        .map((l) => JSON.parse(l));

    // Before: only a is on the list; b advertises but is never connected, so it sends nothing.
    await waitFor(() => sent(a!.address) >= 5 || c.proc.exitCode !== null, 60_000, 'a read');
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    expect(sent(b!.address)).toBe(0);

    // Reload with a and b: b is connected and read.
    writeFileSync(cfg, config([a!, b!]));
    c.proc.kill('SIGHUP');
    await waitFor(() => applied().length >= 1 || c.proc.exitCode !== null, 30_000, 'the first reload');
    await waitFor(() => sent(b!.address) >= 5 || c.proc.exitCode !== null, 60_000, 'b read after the reload');
    expect(c.proc.exitCode, c.stderr()).toBeNull();
    expect(applied()[0]!.applied).toEqual(['devices.ble.devices']);
    expect(applied()[0]!.restarted).toEqual(['ble']);
    const aBefore = sent(a!.address);
    await waitFor(() => sent(a!.address) > aBefore, 30_000, 'a read again after the restart of the family');

    // Reload with b only: a is let go and sends nothing more, while b goes on.
    writeFileSync(cfg, config([b!]));
    c.proc.kill('SIGHUP');
    await waitFor(() => applied().length >= 2 || c.proc.exitCode !== null, 30_000, 'the second reload');
    const bAt = sent(b!.address);
    await waitFor(() => sent(b!.address) >= bAt + 5, 60_000, 'b read after the second reload');
    const aAt = sent(a!.address);
    const bNext = sent(b!.address);
    await waitFor(() => sent(b!.address) >= bNext + 5, 60_000, 'b read on');
    expect(sent(a!.address)).toBe(aAt);

    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);
    expect(readBufferStats(data)?.totalReadings ?? 0).toBeGreaterThan(0);
  }, 180_000);
});
