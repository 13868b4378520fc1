/**
 * The SD card fails while the gateway runs: the kernel aborts the ext4 journal and makes the file
 * system read-only (errors=remount-ro), with the buffer's files open. The card is a real ext4
 * image, loop-mounted (the tests run as root), made to fail through ext4's own trigger. The
 * shipped command takes readings from a sensor over its embedded MQTT broker (a reading is
 * acknowledged after its commit):
 *  - before: every reading acknowledged, /readyz 200;
 *  - after: the next reading is not acknowledged, and /readyz says 503 with why (so the
 *    WardgateNotReady rule fires), while the process stays up;
 *  - `wardgate status` says it is running, with its status file stale (it cannot write that
 *    either: status said "not running" of the live gateway), and not running once it is stopped;
 *  - a restart on the read-only card exits non-zero saying the file system is read-only (it said
 *    "could not take the lock").
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { readStatusFile } from '../../src/status-file.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import { waitFor } from '../helpers/gateway.js';
import { freePort } from '../helpers/kafka.js';
import { type Ext4Card, mountExt4 } from '../helpers/tmpfs.js';

let card: Ext4Card;

beforeAll(() => {
  ensureBuilt();
  card = mountExt4('wg-ro-card-', 64);
}, 120_000);

afterAll(() => card?.unmount());

/** `wardgate status --config cfg --json`, as an operator runs it. */
async function status(cfg: string): Promise<{ running: boolean; statusStale: boolean; text: string }> {
  const j = spawnBin(['status', '--config', cfg, '--json']);
  await j.exited;
  const t = spawnBin(['status', '--config', cfg]);
  await t.exited;
  const r = JSON.parse(j.stdout()) as { running: boolean; statusStale: boolean };
  return { running: r.running, statusStale: r.statusStale, text: t.stdout() };
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

describe('the card goes read-only under a running gateway', () => {
  it('stops acknowledging, says not ready and why, stays up; a restart exits non-zero naming the read-only file system', { timeout: 90_000 }, async () => {
    const key = join(card.root, 'k.key'); // off the card
    generateKeyFile(key);
    const [mqttPort, metricsPort] = [await freePort(), await freePort()];
    const cfg = join(card.root, 'c.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        gateway: { id: 'gw-ro', dataDir: join(card.mnt, 'data') },
        buffer: { keyFile: key },
        kafka: { brokers: [`127.0.0.1:${await freePort()}`], retry: { initial: 1000, max: 5000 } },
        metrics: { port: metricsPort },
        log: { level: 'warn' },
        devices: {
          mqtt: {
            enabled: true,
            embedded: { tcp: { host: '127.0.0.1', port: mqttPort }, auth: { anonymous: { publish: ['ward/#'] } } },
            rules: [{ name: 'n', topic: 'ward/{bed}/{device}/n', metric: 'spo2', unit: '%', decoder: { type: 'text' } }],
          },
        },
      }),
    );
    const gw = spawnBin(['run', '--config', cfg]);
    try {
      await waitFor(async () => (await readyz(metricsPort).catch(() => ({ status: 0 }))).status === 200, 30_000, 'the gateway ready');
      const sensor = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'ox-1', reconnectPeriod: 0 });
      for (let i = 0; i < 20; i++) await sensor.publishAsync('ward/7/ox1/n', String(90 + (i % 9)), { qos: 1 });

      card.fail();
      let acknowledged = false;
      sensor.publishAsync('ward/7/ox1/n', '95', { qos: 1 }).then(
        () => {
          acknowledged = true;
        },
        () => undefined,
      );
      let last = { status: 0, body: '' };
      await waitFor(
        async () => {
          last = await readyz(metricsPort);
          return last.status === 503;
        },
        30_000,
        'not ready once commits fail',
      );
      expect(JSON.parse(last.body).detail.reason).toMatch(/cannot commit/);
      expect(acknowledged).toBe(false);
      expect(gw.proc.exitCode).toBeNull();
      sensor.end(true);

      // Its status file is not written any more: once it is older than status's 5 s, the gateway
      // must still show as running (its pid), with the file named stale.
      const statusFile = join(card.mnt, 'data', 'status.json');
      await waitFor(() => Date.now() - readStatusFile(statusFile)!.updatedAt > 6000, 30_000, 'the status file left stale');
      const live = await status(cfg);
      expect(live.text).toMatch(new RegExp(`gateway +gw-ro — running \\(pid ${gw.proc.pid}\\), but its status file was last written`));
      expect(live).toMatchObject({ running: true, statusStale: true });
    } finally {
      gw.proc.kill('SIGTERM');
      await gw.exited;
    }
    const stopped = await status(cfg);
    expect(stopped.text).toMatch(/gateway +gw-ro — not running \(last status/);
    expect(stopped).toMatchObject({ running: false, statusStale: false });

    const again = spawnBin(['run', '--config', cfg]);
    const code = await again.exited;
    expect(code).not.toBe(0);
    expect(again.stderr()).toMatch(/cannot start: [^\n]*read-only file system/);
  });
});
