/**
 * Memory property of the shipped command (issue 10, defect 1): the real `bin/wardgate.js`,
 * executed as `wardgate` is (its first line gives node the shipped 64 MiB old space), takes
 * whatever an MQTT source sends without running out of heap, and commits all of it:
 *  - an external Mosquitto holding a large QoS 1 backlog for the gateway's persistent session;
 *  - the embedded broker with 200 publishers each writing all their QoS 1 messages at once.
 * Peak resident memory is sampled by the test from /proc/PID/status and must stay under the
 * systemd unit's MemoryHigh. What must be in the buffer is what the test published; the
 * buffer is read back with the key after the gateway stopped.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { Cleanup } from './helpers/gateway.js';
import { freePort, startMosquitto } from './helpers/mosquitto.js';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/wardgate.js');

/** MemoryHigh of systemd/wardgate.service, in bytes. */
function memoryHigh(): number {
  const unit = readFileSync(join(REPO, 'systemd/wardgate.service'), 'utf8');
  const m = /^MemoryHigh=(\d+)([KMG]?)$/m.exec(unit);
  if (!m) throw new Error('no MemoryHigh in systemd/wardgate.service');
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!;
}

/** bin/wardgate.js runs dist/: it must have been built from the MQTT sources under test. */
function assertBuilt(): void {
  const dir = join(REPO, 'src/devices/mqtt');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const built = join(REPO, 'dist/src/devices/mqtt', f.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(dir, f)).mtimeMs)
      throw new Error(`${built} is older than its source: run npm run build first`);
  }
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface Run {
  proc: ChildProcess;
  output: () => string;
  /** Highest VmRSS seen, bytes. */
  peakRss: () => number;
  exited: Promise<number | null>;
}

/** Executes bin/wardgate.js itself (the kernel runs its #! line, as systemd runs `wardgate`). */
function runShipped(configFile: string): Run {
  const proc = spawn(BIN, ['run', '--config', configFile], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-20_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  let peak = 0;
  const sample = (): void => {
    try {
      const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 25);
  const exited = new Promise<number | null>((r) =>
    proc.once('exit', (code, signal) => {
      clearInterval(timer);
      r(code ?? (signal ? -1 : null));
    }),
  );
  cleanup.add(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await exited;
  });
  return { proc, output: () => out, peakRss: () => peak, exited };
}

interface Setup {
  dir: string;
  dataDir: string;
  keyFile: string;
  configFile: string;
}

async function gatewayFiles(mqtt: object): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-memory-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const configFile = join(dir, 'wardgate.json');
  // Kafka is unreachable (a closed port): everything stays in the buffer, where the test counts it.
  const config = {
    gateway: { id: 'gw-memory', dataDir },
    buffer: { keyFile },
    kafka: { brokers: [`127.0.0.1:${await freePort()}`], retry: { initial: 1000, max: 5000 } },
    log: { level: 'warn' },
    devices: { mqtt },
  };
  writeFileSync(configFile, JSON.stringify(config));
  return { dir, dataDir, keyFile, configFile };
}

/** Resolves true once something accepts connections on `port` (polled). */
async function listening(port: number): Promise<boolean> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = tcpConnect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The flags node runs the gateway with (read from /proc, so the test knows the shipped heap is in use). */
function nodeFlags(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a.startsWith('--max'));
}

/** Waits until the gateway reports `n` committed readings, or it exits, or `ms` pass. */
async function committed(s: Setup, run: Run, n: number, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let last = 0;
  while (Date.now() < end && run.proc.exitCode === null && run.proc.signalCode === null) {
    last = readStatusFile(statusFilePath(s.dataDir))?.ingestedTotal ?? last;
    if (last >= n) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/** Every reading's value in the buffer (read with the key after the gateway stopped). */
async function bufferedValues(s: Setup): Promise<number[]> {
  const log = silentLogger();
  const buffer = await openBuffer({ dir: s.dataDir, keyFile: s.keyFile, gatewayId: 'gw-memory', events: new Events(log), log });
  try {
    const values: number[] = [];
    for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 30 })) {
      for (const r of l.readings) values.push(r.value as number);
      buffer.ack(l.id);
    }
    return values;
  } finally {
    await buffer.close();
  }
}

/** `wardgate status --json`: readings in the buffer, as an operator would see them. */
function statusReadings(s: Setup): number {
  const out = execFileSync(process.execPath, [BIN, 'status', '--config', s.configFile, '--json'], { cwd: REPO, encoding: 'utf8' });
  return (JSON.parse(out) as { buffer: { totalReadings: number } }).buffer.totalReadings;
}

const RULES = [{ name: 'n', topic: 'ward/{bed}/{device}/n', metric: 'spo2', unit: '%', decoder: { type: 'text' } }];

/** 0..n-1, each once: what the test published. */
const expected = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('memory is bounded whatever an MQTT source sends (shipped heap, real processes)', () => {
  beforeAll(assertBuilt);

  it('drains a 100,000-message QoS 1 backlog of an external Mosquitto completely, under MemoryHigh', async () => {
    const N = 100_000;
    const broker = await startMosquitto({ maxInflight: 1000, maxQueued: 1_000_000 });
    cleanup.add(() => broker.stop());
    // The gateway's persistent session exists (it subscribed once), then the backlog builds up.
    const session = await connectAsync(broker.url, { clientId: 'wg-backlog', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    await session.subscribeAsync('ward/#', { qos: 1 });
    await session.endAsync();
    const pub = await connectAsync(broker.url, { clientId: 'backlog-publisher', reconnectPeriod: 0 });
    let published = 0;
    await new Promise<void>((done, fail) => {
      let sent = 0;
      let window = 0;
      const pump = (): void => {
        while (window < 500 && sent < N) {
          const i = sent++;
          window++;
          pub.publish(`ward/${i % 40}/ox${i % 40}/n`, String(i), { qos: 1 }, (err) => {
            if (err) return fail(err);
            window--;
            if (++published === N) done();
            else pump();
          });
        }
      };
      pump();
    });
    await pub.endAsync();
    expect(published).toBe(N);

    const s = await gatewayFiles({
      enabled: true,
      external: [{ name: 'hospital', url: broker.url, clientId: 'wg-backlog', protocolVersion: 5, subscriptions: ['ward/#'] }],
      rules: RULES,
    });
    const run = runShipped(s.configFile);
    await new Promise((r) => setTimeout(r, 300));
    expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
    const n = await committed(s, run, N, 60_000);
    const alive = run.proc.exitCode === null && run.proc.signalCode === null;
    run.proc.kill('SIGTERM');
    const code = await run.exited;
    const peak = run.peakRss();
    process.stdout.write(
      `external backlog: ${N} published, ${n} committed while running, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ` +
        `${memoryHigh() / 2 ** 20} MiB)\n`,
    );
    expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
    expect(code).toBe(0);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(memoryHigh());
    expect(statusReadings(s)).toBe(N);
    expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
  }, 90_000);

  it.each([1, 0] as const)(
    'takes 200 publishers writing all their QoS %s messages at once into the embedded broker, under MemoryHigh',
    async (qos) => {
      const PUBLISHERS = 200;
      const EACH = 500;
      // The port is found free, then bound by the gateway: another test may take it in between,
      // so a start that fails with EADDRINUSE is retried on another port.
      let s!: Setup;
      let run!: Run;
      let port = 0;
      for (let attempt = 0; ; attempt++) {
        port = await freePort();
        s = await gatewayFiles({
          enabled: true,
          embedded: {
            tcp: { host: '127.0.0.1', port },
            auth: { anonymous: { publish: ['ward/#'] } },
            limits: { messagesPerSecond: 1_000_000, burst: 1_000_000 },
          },
          rules: RULES,
        });
        run = runShipped(s.configFile);
        const up = await Promise.race([listening(port), run.exited.then(() => false)]);
        if (up) break;
        if (attempt >= 2 || !run.output().includes('EADDRINUSE')) throw new Error(`the gateway did not start:\n${run.output().slice(-3000)}`);
      }
      const url = `mqtt://127.0.0.1:${port}`;
      const clients: MqttClient[] = [];
      const deadline = Date.now() + 10_000;
      for (let p = 0; p < PUBLISHERS; p++) {
        for (;;) {
          try {
            clients.push(await connectAsync(url, { clientId: `flood-${p}`, reconnectPeriod: 0, connectTimeout: 5000 }));
            break;
          } catch (e) {
            if (Date.now() > deadline || run.proc.exitCode !== null) throw new Error(`${String(e)}; the gateway said:\n${run.output().slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      cleanup.add(() => Promise.all(clients.map((c) => c.endAsync(true))));
      expect(nodeFlags(run.proc.pid!)).toContain('--max-old-space-size=64');
      // Each publisher writes all its messages without waiting for a PUBACK: as fast as it can.
      // (QoS 1: called back on the PUBACK, which means committed; QoS 0: once written to the socket.)
      let acked = 0;
      const failures: string[] = [];
      const all = clients.map(
        (c, p) =>
          new Promise<void>((done) => {
            let left = EACH;
            for (let k = 0; k < EACH; k++) {
              const i = p * EACH + k;
              c.publish(`ward/${p}/ox${p}/n`, String(i), { qos }, (err) => {
                if (err) failures.push(err.message);
                else acked++;
                if (--left === 0) done();
              });
            }
          }),
      );
      const N = PUBLISHERS * EACH;
      let settled = await Promise.race([
        Promise.all(all).then(() => true),
        run.exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(false), 60_000)),
      ]);
      // QoS 0 is best effort, but nothing here makes the buffer refuse: all of it must be committed.
      if (settled && qos === 0) settled = (await committed(s, run, N, 60_000)) >= N;
      const alive = run.proc.exitCode === null && run.proc.signalCode === null;
      await Promise.all(clients.map((c) => c.endAsync(true)));
      run.proc.kill('SIGTERM');
      const code = await run.exited;
      const peak = run.peakRss();
      process.stdout.write(
        `embedded flood, QoS ${qos}: ${N} published by ${PUBLISHERS}, ${acked} ${qos ? 'acknowledged' : 'written'}, peak RSS ` +
          `${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`,
      );
      expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
      expect(settled).toBe(true);
      expect(failures).toEqual([]);
      expect(acked).toBe(N);
      expect(code).toBe(0);
      expect(peak).toBeGreaterThan(0);
      expect(peak).toBeLessThan(memoryHigh());
      // Every acknowledged message is in the buffer, once.
      expect((await bufferedValues(s)).sort((a, b) => a - b)).toEqual(expected(N));
    },
    90_000,
  );
});
