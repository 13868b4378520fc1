/**
 * The shipped command as systemd runs it, for the memory property tests (issue 10, defect 1):
 * `bin/wardgate.js` executed itself (its #! line gives node the shipped V8 flags), its peak
 * resident memory sampled from /proc, and the MQTT loads those tests offer it (a Mosquitto
 * backlog for a persistent session, a flood of publishers into the embedded broker).
 * Used by test/mqtt/memory-bound.test.ts (Kafka down: everything stays in the buffer) and
 * test/integration/mqtt-memory-kafka.test.ts (a real Kafka: everything must arrive there).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import { generateKeyFile } from '../../../src/crypto/keys.js';
import { readStatusFile, statusFilePath } from '../../../src/status-file.js';
import type { Cleanup } from './gateway.js';
import { freePort } from './mosquitto.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const BIN = join(REPO, 'bin/wardgate.js');

/** MemoryHigh of systemd/wardgate.service, in bytes. */
export function memoryHigh(): number {
  const unit = readFileSync(join(REPO, 'systemd/wardgate.service'), 'utf8');
  const m = /^MemoryHigh=(\d+)([KMG]?)$/m.exec(unit);
  if (!m) throw new Error('no MemoryHigh in systemd/wardgate.service');
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!;
}

/** bin/wardgate.js runs dist/: it must have been built from the MQTT sources under test. */
export function assertBuilt(): void {
  const dir = join(REPO, 'src/devices/mqtt');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const built = join(REPO, 'dist/src/devices/mqtt', f.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(dir, f)).mtimeMs)
      throw new Error(`${built} is older than its source: run npm run build first`);
  }
}

export interface Run {
  proc: ChildProcess;
  output: () => string;
  /** Highest VmRSS seen, bytes. */
  peakRss: () => number;
  exited: Promise<number | null>;
  alive: () => boolean;
}

/** Executes bin/wardgate.js itself (the kernel runs its #! line, as systemd runs `wardgate`). */
export function runShipped(cleanup: Cleanup, configFile: string): Run {
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
  return { proc, output: () => out, peakRss: () => peak, exited, alive: () => proc.exitCode === null && proc.signalCode === null };
}

export interface Setup {
  dir: string;
  dataDir: string;
  keyFile: string;
  configFile: string;
}

export const GATEWAY_ID = 'gw-memory';

/**
 * A data folder, key file and configuration for the shipped command with `mqtt` as its MQTT
 * section. `kafka` is its Kafka section; without one, Kafka is a closed port (everything stays
 * in the buffer).
 */
export async function gatewayFiles(cleanup: Cleanup, mqtt: object, kafka?: object): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-memory-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'data');
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const configFile = join(dir, 'wardgate.json');
  const config = {
    gateway: { id: GATEWAY_ID, dataDir },
    buffer: { keyFile },
    kafka: kafka ?? { brokers: [`127.0.0.1:${await freePort()}`], retry: { initial: 1000, max: 5000 } },
    log: { level: 'warn' },
    devices: { mqtt },
  };
  writeFileSync(configFile, JSON.stringify(config));
  return { dir, dataDir, keyFile, configFile };
}

/** Resolves true once something accepts connections on `port` (polled). */
export async function listening(port: number): Promise<boolean> {
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
export function nodeFlags(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    .split('\0')
    .filter((a) => a.startsWith('--max'));
}

/** Waits until `count()` of the gateway's status file reaches `n`, or it exits, or `ms` pass; returns the last count. */
export async function statusReaches(
  s: Setup,
  run: Run,
  n: number,
  ms: number,
  count: (st: NonNullable<ReturnType<typeof readStatusFile>>) => number,
): Promise<number> {
  const end = Date.now() + ms;
  let last = 0;
  while (Date.now() < end && run.alive()) {
    const st = readStatusFile(statusFilePath(s.dataDir));
    if (st) last = count(st);
    if (last >= n) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

/** `wardgate status --json`: readings in the buffer, as an operator would see them. */
export function statusReadings(s: Setup): number {
  const out = execFileSync(process.execPath, [BIN, 'status', '--config', s.configFile, '--json'], { cwd: REPO, encoding: 'utf8' });
  return (JSON.parse(out) as { buffer: { totalReadings: number } }).buffer.totalReadings;
}

export const RULES = [{ name: 'n', topic: 'ward/{bed}/{device}/n', metric: 'spo2', unit: '%', decoder: { type: 'text' } }];

/** 0..n-1, each once: what the tests publish. */
export const expected = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/**
 * Creates the persistent session `clientId` on `url` (subscribed to ward/# at QoS 1, then gone)
 * and publishes values 0..n-1 for it to hold (500 unacknowledged at a time). Returns how many
 * the broker acknowledged.
 */
export async function mosquittoBacklog(url: string, clientId: string, n: number): Promise<number> {
  const session = await connectAsync(url, { clientId, clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
  await session.subscribeAsync('ward/#', { qos: 1 });
  await session.endAsync();
  const pub = await connectAsync(url, { clientId: 'backlog-publisher', reconnectPeriod: 0 });
  let published = 0;
  await new Promise<void>((done, fail) => {
    let sent = 0;
    let window = 0;
    const pump = (): void => {
      while (window < 500 && sent < n) {
        const i = sent++;
        window++;
        pub.publish(`ward/${i % 40}/ox${i % 40}/n`, String(i), { qos: 1 }, (err) => {
          if (err) return fail(err);
          window--;
          if (++published === n) done();
          else pump();
        });
      }
    };
    pump();
  });
  await pub.endAsync();
  return published;
}

/**
 * Starts the shipped command with an embedded broker on a free port. The port is found free,
 * then bound by the gateway: another test may take it in between, so a start that fails with
 * EADDRINUSE is retried on another port.
 */
export async function startEmbedded(cleanup: Cleanup, kafka?: object): Promise<{ s: Setup; run: Run; url: string }> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const s = await gatewayFiles(
      cleanup,
      {
        enabled: true,
        embedded: {
          tcp: { host: '127.0.0.1', port },
          auth: { anonymous: { publish: ['ward/#'] } },
          limits: { messagesPerSecond: 1_000_000, burst: 1_000_000 },
        },
        rules: RULES,
      },
      kafka,
    );
    const run = runShipped(cleanup, s.configFile);
    const up = await Promise.race([listening(port), run.exited.then(() => false)]);
    if (up) return { s, run, url: `mqtt://127.0.0.1:${port}` };
    if (attempt >= 2 || !run.output().includes('EADDRINUSE')) throw new Error(`the gateway did not start:\n${run.output().slice(-3000)}`);
  }
}

export interface Flood {
  /** Messages the broker acknowledged (QoS 1) or the client wrote (QoS 0). */
  acked: number;
  failures: string[];
  /** True once every publish was called back; false when the gateway exited or `ms` passed first. */
  settled: boolean;
  /** Ends every client (also done by `cleanup`). */
  end: () => Promise<unknown>;
}

/**
 * `publishers` clients connect to `url`, then each writes all `each` of its messages without
 * waiting for a PUBACK, as fast as it can (values p*each .. p*each+each-1). The clients stay
 * connected until `end()` (or `cleanup`).
 */
export async function publisherFlood(cleanup: Cleanup, run: Run, url: string, publishers: number, each: number, qos: 0 | 1, ms: number): Promise<Flood> {
  const clients: MqttClient[] = [];
  const deadline = Date.now() + 10_000;
  for (let p = 0; p < publishers; p++) {
    for (;;) {
      try {
        clients.push(await connectAsync(url, { clientId: `flood-${p}`, reconnectPeriod: 0, connectTimeout: 5000 }));
        break;
      } catch (e) {
        if (Date.now() > deadline || !run.alive()) throw new Error(`${String(e)}; the gateway said:\n${run.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  const endAll = (): Promise<unknown> => Promise.all(clients.map((c) => c.endAsync(true)));
  cleanup.add(endAll);
  // (QoS 1: called back on the PUBACK, which means committed; QoS 0: once written to the socket.)
  const flood: Flood = { acked: 0, failures: [], settled: false, end: endAll };
  const all = clients.map(
    (c, p) =>
      new Promise<void>((done) => {
        let left = each;
        for (let k = 0; k < each; k++) {
          c.publish(`ward/${p}/ox${p}/n`, String(p * each + k), { qos }, (err) => {
            if (err) flood.failures.push(err.message);
            else flood.acked++;
            if (--left === 0) done();
          });
        }
      }),
  );
  flood.settled = await Promise.race([
    Promise.all(all).then(() => true),
    run.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
  ]);
  return flood;
}

/**
 * Stops the gateway (SIGTERM) and checks what each memory test checks of it: alive until then,
 * exit 0, a peak resident memory (sampled) under MemoryHigh. Prints the peak after `label`.
 */
export async function stopUnderMemoryHigh(run: Run, label: string): Promise<void> {
  const alive = run.alive();
  run.proc.kill('SIGTERM');
  const code = await run.exited;
  const peak = run.peakRss();
  process.stdout.write(`${label}, peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (MemoryHigh ${memoryHigh() / 2 ** 20} MiB)\n`);
  expect(alive, `the gateway died:\n${run.output().slice(-3000)}`).toBe(true);
  expect(code).toBe(0);
  expect(peak).toBeGreaterThan(0);
  expect(peak).toBeLessThan(memoryHigh());
}
