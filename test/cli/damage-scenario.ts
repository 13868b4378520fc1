/**
 * Damage found while the shipped command runs (issue 10, defect 5), as a scenario shared by
 * test/cli/runtime-damage.test.ts (the restart's buffer read back) and
 * test/integration/salvage-kafka.test.ts (the restart forwards into a real Kafka):
 *
 * `bin/wardgate.js run` (its V8 flags, Kafka unreachable, an embedded MQTT listener) over a
 * backlog the test wrote, one reading per unit; while it runs, the last leaf page of the vital
 * table (where the next vital unit goes) is overwritten on disk; a reading a sensor then
 * publishes needs that page: it is never acknowledged and the process exits 1 (systemd
 * restarts it). The scenario knows which units were lost from the page bytes it destroyed, and
 * returns the configuration with which the test restarts the gateway.
 */
import { writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from 'mqtt';
import { DB_FILE, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { PendingReading } from '../../src/reading.js';
import { destroyPage } from '../buffer/pages.js';
import { spawnBin } from '../helpers/bin.js';
import type { CliChild } from '../helpers/gateway.js';
import { tempDir } from '../helpers/gateway.js';
import { freePort } from '../mqtt/helpers/mosquitto.js';

export const BACKLOG = 300;
export const GATEWAY_ID = 'gw-rt';

/** Resolves once something listens on the port (the gateway is up). */
export async function listening(port: number, child: CliChild): Promise<void> {
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

export interface Damaged {
  data: string;
  keyFile: string;
  mqttPort: number;
  /** Writes the configuration (Kafka section as YAML lines, default unreachable) and returns its path. */
  config: (kafka?: string[]) => string;
  /** Unit ids (= seqs, one reading per unit) of the backlog, and those the destroyed page held. */
  ids: number[];
  lost: Set<number>;
  /** The first run: its exit code and output, and whether the sensor's reading was acknowledged. */
  code: number | null;
  stderr: string;
  acked: boolean;
}

/** Runs the scenario above; `children` collects the processes it starts (the caller kills leftovers). */
export async function damageWhileRunning(children: CliChild[]): Promise<Damaged> {
  const dir = tempDir('wg-rtdamage-');
  const data = join(dir, 'data');
  const keyFile = join(dir, 'k.key');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const buf = await openBuffer({ dir: data, keyFile, gatewayId: GATEWAY_ID, events: new Events(log), log, unitMaxReadings: 1, compress: false });
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
  const config = (kafka: string[] = ['kafka:', '  brokers: ["127.0.0.1:1"]']): string => {
    const cfg = join(dir, 'c.yaml');
    writeFileSync(
      cfg,
      [
        `gateway:\n  id: ${GATEWAY_ID}\n  dataDir: ${data}`,
        `buffer:\n  keyFile: ${keyFile}`,
        ...kafka,
        `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${mqttPort} }\n      auth:\n        anonymous: { ` +
          `publish: ['ward/#'] }`,
        `    rules:\n      - { topic: 'ward/{bed}/{device}/hr', metric: heart_rate, unit: /min, decoder: { type: text } }\n`,
      ].join('\n'),
    );
    return cfg;
  };
  const first = spawnBin(['run', '--config', config()]);
  children.push(first);
  await listening(mqttPort, first);

  // While it runs: everything into the database file, then the last leaf of the vital table
  // (where the next vital unit goes) overwritten on disk. What it held is lost; the rest is not.
  const rw = new Database(path);
  const [ckpt] = rw.pragma('wal_checkpoint(FULL)') as { busy: number }[];
  if (ckpt!.busy !== 0) throw new Error('the checkpoint was blocked');
  const victim = rw.prepare("SELECT pageno FROM dbstat WHERE name = 'units_vital' AND pagetype = 'leaf' ORDER BY path DESC LIMIT 1").pluck().get() as number;
  const rows = rw.prepare('SELECT id, body FROM units_vital ORDER BY id').all() as { id: number; body: Buffer }[];
  const lost = destroyPage(path, victim, rows);
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
  return { data, keyFile, mqttPort, config, ids: rows.map((r) => r.id), lost, code, stderr: first.stderr(), acked };
}

/** Waits until the gateway says it started (its signal handlers are in place then). */
export async function started(child: CliChild): Promise<void> {
  while (!/wardgate started/.test(child.stdout() + child.stderr())) {
    if (child.proc.exitCode !== null) throw new Error(`the restarted gateway exited: ${child.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
