/**
 * Unauthenticated CPU starvation (issue 10, defect 3): a flood of wrong-password CONNECTs
 * from 64 source addresses at a time must not hold a logged-in sensor back.
 *
 * Real aedes (the MQTT adapter's embedded broker), the real encrypted buffer with its WAL
 * fsync (synchronous full), the real Ingest. The test only observes: the buffer's WAL sync
 * uses node:fs through a wrapper that records when each fsync starts and ends, and an
 * async_hooks hook records scrypt requests queued on libuv's thread pool in this process.
 * Checked by events and their order, not by time:
 *  - while the flood runs, every message of the sensor is acknowledged, and each of its
 *    alarms is acknowledged with at most two WAL fsyncs completing in between (one that may
 *    have been running when it arrived, and its own: one commit plus its fsync);
 *  - no password check is ever queued on the thread pool the fsync uses;
 *  - every refused login the flood saw is counted (login_failed) and logged with source
 *    address and username, never with the password.
 */

import { createHook } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { nodeSyncFs, type SyncFs } from '../../src/buffer/wal-sync.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { MqttAdapter } from '../../src/devices/mqtt/adapter.js';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { Ingest } from '../../src/ingest.js';
import { createLogger, silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { mqttConfig, waitFor } from './helpers/context.js';
import { Cleanup } from './helpers/gateway.js';
import { connectPacket } from './helpers/packets.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const FLOOD_PASSWORD = 'flood-password-9f3a61';

interface Flood {
  /** CONNACKs received, by return code. */
  connacks: Map<number, number>;
  attempts(): number;
  /** Stops starting new attempts and waits for those under way to end. */
  stop(): Promise<void>;
}

/** `parallel` connections at a time, each from one of `sources` loopback addresses, each a wrong-password CONNECT. */
function flood(port: number, parallel: number, sources: number): Flood {
  const connacks = new Map<number, number>();
  let stopping = false;
  let live = 0;
  let n = 0;
  let seen = 0;
  let idle: (() => void) | null = null;
  const one = (): void => {
    if (stopping) {
      if (live === 0) idle?.();
      return;
    }
    const k = n++;
    live++;
    const sock: Socket = tcpConnect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (k % sources)}` });
    let got = false;
    sock.on('connect', () => sock.write(connectPacket(`flood-${k}`, k % 2 === 0 ? 'ox-1' : `guess-${k % 97}`, FLOOD_PASSWORD)));
    sock.on('data', (d: Buffer) => {
      if (!got && d.length >= 4 && d[0] === 0x20) {
        got = true;
        seen++;
        connacks.set(d[3]!, (connacks.get(d[3]!) ?? 0) + 1);
        sock.destroy();
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      live--;
      setImmediate(one);
    });
  };
  for (let i = 0; i < parallel; i++) one();
  return {
    connacks,
    attempts: () => seen,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        idle = resolve;
        if (live === 0) resolve();
      }),
  };
}

describe('login flood against the embedded broker', () => {
  it('keeps acknowledging a logged-in sensor, commits its alarms within one commit plus its fsync, and never runs a password check on the thread ' +
    'pool', async () => {
    // What happens, in order.
    const order: string[] = [];
    let poolScryptsPending = 0;
    let poolScrypts = 0;
    const scryptIds = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'SCRYPTREQUEST') {
          scryptIds.add(id);
          poolScrypts++;
          poolScryptsPending++;
        }
      },
      destroy(id) {
        if (scryptIds.delete(id)) poolScryptsPending--;
      },
    });
    const fsyncStartsWithScryptPending: number[] = [];
    const observed: SyncFs = {
      open: nodeSyncFs.open,
      close: nodeSyncFs.close,
      fsync: (fd, cb) => {
        order.push('fsync_start');
        fsyncStartsWithScryptPending.push(poolScryptsPending);
        nodeSyncFs.fsync(fd, (err) => {
          order.push('fsync_done');
          cb(err);
        });
      },
    };

    const root = mkdtempSync(join(tmpdir(), 'wardgate-login-flood-'));
    cleanup.add(() => rmSync(root, { recursive: true, force: true }));
    const keyFile = join(root, 'wardgate.key');
    generateKeyFile(keyFile);
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void lines.push(s) } });
    const events = new Events(log);
    const buffer = await openBuffer({
      dir: join(root, 'data'),
      keyFile,
      gatewayId: 'gw-flood',
      events,
      log: silentLogger(),
      synchronous: 'full',
      walSyncFs: observed,
    });
    cleanup.add(() => buffer.close());
    const ingest = new Ingest(buffer, events, { clockSkewToleranceMs: 120_000 });
    const sensorPassword = 'sensor-password-1';
    const adapter = new MqttAdapter(
      mqttConfig({
        enabled: true,
        embedded: {
          tcp: { host: '0.0.0.0', port: 0 },
          auth: { users: [{ username: 'ox-1', passwordHash: await hashPassword(sensorPassword), publish: ['ward/#'] }] },
        },
        rules: [
          { name: 'spo2', topic: 'ward/{bed}/{device}/spo2', metric: 'spo2', unit: '%', decoder: { type: 'text' } },
          { name: 'alarm', topic: 'ward/{bed}/{device}/alarm', metric: 'heart_rate', unit: '/min', class: 'alarm', decoder: { type: 'text' } },
        ],
      }),
    );
    await adapter.start({ sink: ingest, events, log });
    cleanup.add(() => adapter.stop());
    const port = adapter.addresses().tcp!.port;

    hook.enable();
    cleanup.add(() => hook.disable());
    const sensor = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'ox-1', username: 'ox-1', password: sensorPassword, reconnectPeriod: 0 });
    cleanup.add(() => sensor.endAsync(true));

    const f = flood(port, 64, 64);
    cleanup.add(() => f.stop());
    await waitFor(() => f.attempts() >= 200, 'the flood to be under way', 20_000);
    // The flood's password checks run somewhere else than the thread pool the fsync needs.
    expect(poolScrypts, "password checks queued on libuv's thread pool").toBe(0);

    const startedAt = f.attempts();
    const K = 30;
    for (let i = 0; i < K; i++) {
      await sensor.publishAsync('ward/7/ox-1/spo2', String(90 + (i % 10)), { qos: 1 });
      if (i % 3 === 0) {
        order.push(`alarm_sent_${i}`);
        await sensor.publishAsync('ward/7/ox-1/alarm', String(150 + i), { qos: 1 });
        order.push(`alarm_acked_${i}`);
      }
    }
    const endedAt = f.attempts();
    await f.stop();

    const byReason = (await events.registry.getSingleMetric('wardgate_login_failed_total')!.get()).values.map((v) => [v.labels.reason, v.value]);
    process.stdout.write(
      `flood: ${f.attempts()} attempts, CONNACK codes ${JSON.stringify([...f.connacks])}, fsyncs ${fsyncStartsWithScryptPending.length}, login_failed ` +
        `by reason ${JSON.stringify(byReason)}\n`,
    );
    // The flood ran all along: logins were refused before, during and after the sensor's messages.
    expect(startedAt).toBeGreaterThanOrEqual(200);
    expect(endedAt).toBeGreaterThan(startedAt);
    // Every message of the sensor was acknowledged (publishAsync resolved), so committed.
    const drained: { metric: string; value: unknown }[] = [];
    await buffer.flush();
    for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
      drained.push(...l.readings.map((r) => ({ metric: r.metric, value: r.value })));
      buffer.ack(l.id);
    }
    expect(drained.filter((r) => r.metric === 'spo2').map((r) => r.value)).toEqual(Array.from({ length: K }, (_, i) => 90 + (i % 10)));
    expect(drained.filter((r) => r.metric === 'heart_rate').map((r) => r.value)).toEqual(
      Array.from({ length: K }, (_, i) => i)
        .filter((i) => i % 3 === 0)
        .map((i) => 150 + i),
    );

    // Each alarm: at most two fsyncs completed between its arrival and its PUBACK.
    for (let i = 0; i < K; i += 3) {
      const between = order.slice(order.indexOf(`alarm_sent_${i}`), order.indexOf(`alarm_acked_${i}`));
      expect(between.filter((e) => e === 'fsync_done').length, `alarm ${i}: ${between.join(' ')}`).toBeGreaterThanOrEqual(1);
      expect(between.filter((e) => e === 'fsync_done').length, `alarm ${i}: ${between.join(' ')}`).toBeLessThanOrEqual(2);
    }
    // No password check ever queued on libuv's pool; the fsyncs never waited behind one.
    expect(poolScrypts).toBe(0);
    expect(fsyncStartsWithScryptPending.every((n) => n === 0)).toBe(true);
    expect(fsyncStartsWithScryptPending.length).toBeGreaterThan(0);

    // Every refused login the flood saw is counted; some were real password checks (wrong
    // password), the rest refused before any check.
    const refused = [...f.connacks.entries()].filter(([code]) => code !== 0).reduce((a, [, n]) => a + n, 0);
    expect(f.connacks.get(0) ?? 0).toBe(0);
    expect(refused).toBe(f.attempts());
    expect(await events.count('login_failed', { family: 'mqtt' })).toBe(refused);
    expect(await events.count('login_failed', { reason: 'bad_credentials' })).toBeGreaterThan(0);
    // Refused before any check: back-off, or the per-source or global limit (which of them depends
    // on how fast the password thread gets through its checks on a loaded machine).
    const beforeCheck = byReason.filter(([reason]) => reason !== 'bad_credentials').reduce((a, [, n]) => a + Number(n), 0);
    expect(beforeCheck, JSON.stringify(byReason)).toBeGreaterThan(0);
    const failedLines = lines.filter((l) => l.includes('"event":"login_failed"')).map((l) => JSON.parse(l) as { source?: string; username?: string });
    expect(failedLines.length).toBeGreaterThan(0);
    for (const l of failedLines) {
      expect(l.source).toMatch(/^(::ffff:)?127\.0\.0\.\d+$/);
      expect(typeof l.username).toBe('string');
    }
    expect(lines.join('\n')).not.toContain(FLOOD_PASSWORD);
    expect(lines.join('\n')).not.toContain(sensorPassword);
  }, 60_000);
});
