/**
 * Damage found while the shipped command runs: `bin/wardgate.js run` (its V8 flags, Kafka
 * unreachable, an embedded MQTT listener) over a backlog the test wrote; a B-tree page of the
 * vital table goes bad on disk while it runs; the next commit (a reading the test publishes)
 * finds it: that reading is never acknowledged, the process exits 1 (systemd restarts it), and
 * the restart moves the file aside and salvages: every backlog reading not on the bad page is
 * still there, the lost ones are announced, and the test's expectation comes from the rows it
 * saw on that page before damaging it.
 */

import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_FILE, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading, Reading } from '../../src/reading.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import type { CliChild } from '../helpers/gateway.js';
import { tempDir } from '../helpers/gateway.js';
import { freePort } from '../mqtt/helpers/mosquitto.js';

const PAGE = 1024;
const BACKLOG = 300;
const children: CliChild[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

/** Resolves once something listens on the port (the gateway is up). */
async function listening(port: number, child: CliChild): Promise<void> {
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`the gateway exited early: ${child.stderr()}`);
    const ok = await new Promise<boolean>((r) => {
      const s = tcpConnect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function drain(buf: Awaited<ReturnType<typeof openBuffer>>): Reading[] {
  const out: Reading[] = [];
  for (;;) {
    const l = buf.lease({ maxReadings: 1000, maxBytes: 1 << 30 });
    if (!l) return out;
    out.push(...l.readings);
    buf.ack(l.id);
  }
}

describe('damage found while the shipped command runs', () => {
  it('a page of the vital table goes bad: the reading that hits it is not acknowledged, exit 1; the restart salvages the rest and announces the ' +
    'loss', async () => {
    const dir = tempDir('wg-rtdamage-');
    const data = join(dir, 'data');
    const keyFile = join(dir, 'k.key');
    generateKeyFile(keyFile);
    // The backlog, one reading per unit (as the buffer test does), so a page holds several whole units.
    const log = silentLogger();
    let buf = await openBuffer({ dir: data, keyFile, gatewayId: 'gw-rt', events: new Events(log), log, unitMaxReadings: 1, compress: false });
    const t = Date.now();
    const backlog: PendingReading[] = Array.from({ length: BACKLOG }, (_, i) => ({
      deviceId: `m${i % 5}`,
      deviceKind: 'simulator',
      bed: `b${i % 5}`,
      metric: 'heart_rate',
      value: 60 + (i % 40),
      unit: '/min',
      gatewayTime: t - (BACKLOG - i) * 1000,
      priorityClass: 'vital',
      quality: [],
    }));
    await buf.append(backlog);
    await buf.close();
    const path = join(data, DB_FILE);

    const mqttPort = await freePort();
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      [
        `gateway:\n  id: gw-rt\n  dataDir: ${data}`,
        `buffer:\n  keyFile: ${keyFile}`,
        'kafka:\n  brokers: ["127.0.0.1:1"]',
        `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${mqttPort} }\n      auth:\n        anonymous: { ` +
          `publish: ['ward/#'] }`,
        `    rules:\n      - { topic: 'ward/{bed}/{device}/hr', metric: heart_rate, unit: /min, decoder: { type: text } }\n`,
      ].join('\n'),
    );
    const first = spawnBin(['run', '--config', cfg]);
    children.push(first);
    await listening(mqttPort, first);

    // While it runs: everything into the database file, then the last leaf of the vital table
    // (where the next vital unit goes) overwritten on disk. What it held is lost; the rest is not.
    const rw = new Database(path);
    const [ckpt] = rw.pragma('wal_checkpoint(FULL)') as { busy: number }[];
    expect(ckpt!.busy).toBe(0);
    const victim = rw.prepare("SELECT pageno FROM dbstat WHERE name = 'units_vital' AND pagetype = 'leaf' ORDER BY path DESC LIMIT 1").pluck().get() as number;
    const rows = rw.prepare('SELECT id, body FROM units_vital ORDER BY id').all() as { id: number; body: Buffer }[];
    expect(rows.length).toBe(BACKLOG);
    const page = Buffer.alloc(PAGE);
    const fd = openSync(path, 'r+');
    readSync(fd, page, 0, PAGE, (victim - 1) * PAGE);
    writeSync(fd, Buffer.alloc(PAGE, 0xa5), 0, PAGE, (victim - 1) * PAGE);
    closeSync(fd);
    const lost = new Set(rows.filter((r) => page.includes(r.body)).map((r) => r.id));
    expect(lost.size).toBeGreaterThan(0);
    // Another connection writes, so the gateway's connection reads pages from the file again.
    rw.prepare("INSERT INTO meta (k, v) VALUES ('test.bump', 1)").run();
    rw.close();

    // A sensor's reading now needs that page: it must not be acknowledged, and the gateway must exit 1.
    // (Its background integrity check may find the damage first and stop it before the sensor is in.)
    const sensor = connect(`mqtt://127.0.0.1:${mqttPort}`, { clientId: 'hr-1', reconnectPeriod: 0, protocolVersion: 4 });
    sensor.on('error', () => undefined);
    const connected = await new Promise<boolean>((r) => {
      sensor.once('connect', () => r(true));
      sensor.once('close', () => r(false));
    });
    let acked = false;
    if (connected)
      sensor.publish('ward/b9/hr-1/hr', '77', { qos: 1 }, (err) => {
        if (!err) acked = true;
      });
    const code = await first.exited;
    sensor.end(true);
    expect(code, first.stderr()).toBe(1);
    expect(acked).toBe(false);
    expect(first.stderr()).toMatch(/damaged/);

    // The restart (what systemd's Restart=on-failure does) salvages; it runs, then stops cleanly.
    const second = spawnBin(['run', '--config', cfg]);
    children.push(second);
    await listening(mqttPort, second);
    // Its signal handlers are in place once it says it started.
    while (!/wardgate started/.test(second.stdout() + second.stderr())) {
      if (second.proc.exitCode !== null) throw new Error(`the restarted gateway exited: ${second.stderr()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    second.proc.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);

    buf = await openBuffer({ dir: data, keyFile, gatewayId: 'gw-rt', events: new Events(log), log });
    const out = drain(buf);
    await buf.close();
    const seqs = out
      .filter((r) => r.metric !== 'gateway_event')
      .map((r) => r.seq)
      .sort((a, b) => a - b);
    expect(seqs).toEqual(rows.map((r) => r.id).filter((id) => !lost.has(id)));
    const alarm = out.find((r) => r.extra?.event === 'buffer_corrupt');
    expect(alarm?.extra).toMatchObject({ lost: lost.size });
  }, 90_000);
});
