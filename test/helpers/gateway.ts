/** Helpers to run a real gateway in tests: in-process, or as a child process of the real CLI. */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readBufferStats } from '../../src/buffer/index.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { silentLogger } from '../../src/logger.js';

export const REPO = resolve(import.meta.dirname, '../..');

export function tempDir(prefix = 'wg-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A unique topic set per test so tests never read each other's messages. */
export function uniqueTopics(tag: string): { alarm: string; vital: string; status: string; waveform: string } {
  const s = `${tag}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  return { alarm: `t.${s}.alarms`, vital: `t.${s}.vitals`, status: `t.${s}.status`, waveform: `t.${s}.waveforms` };
}

export interface SimulatedRunConfig {
  /** The YAML file for `wardgate run --config`. */
  cfg: string;
  /** Its data folder (buffer, status file); the key file is beside it. */
  data: string;
  /** Writes the file again with other topics (a SIGHUP test). */
  write(topics: Record<string, string>): void;
}

/**
 * A configuration file for `wardgate run` with a simulated ward, in a new folder with a new data
 * key: `simulator` is the flow mapping of devices.simulator, `kafka` extra lines under kafka:.
 */
export function simulatedRunConfig(opts: { brokers: string; topics: Record<string, string>; simulator: string; kafka?: string[] }): SimulatedRunConfig {
  const dir = tempDir();
  const data = join(dir, 'data');
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const cfg = join(dir, 'wardgate.yaml');
  const write = (topics: Record<string, string>): void =>
    writeFileSync(
      cfg,
      [
        'gateway:',
        `  dataDir: ${data}`,
        'buffer:',
        `  keyFile: ${keyFile}`,
        'kafka:',
        `  brokers: ["${opts.brokers}"]`,
        ...(opts.kafka ?? []).map((l) => `  ${l}`),
        '  topics:',
        ...Object.entries(topics).map(([k, v]) => `    ${k}: ${v}`),
        'devices:',
        `  simulator: ${opts.simulator}`,
        'log: { level: info }',
        '',
      ].join('\n'),
    );
  write(opts.topics);
  return { cfg, data, write };
}

export function testConfig(brokers: string, dataDir: string, overrides: ConfigInput = {}): Config {
  const raw: Record<string, object> = {
    gateway: { dataDir },
    kafka: { brokers: [brokers], retry: { initial: 100, max: 1000 }, sendTimeout: 5000, connectTimeout: 3000 },
    log: { level: 'silent' },
  };
  for (const [k, v] of Object.entries(overrides)) raw[k] = { ...(raw[k] ?? {}), ...(v as object) };
  return validateConfig(raw, 'test', { allowAnyFreePort: true });
}

export async function startTestGateway(config: Config): Promise<Gateway> {
  return startGateway(config, { mode: 'simulate', log: silentLogger(), createKeyIfMissing: true });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface CliChild {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** vitest's hook, in a vitest worker only (the benchmarks import these helpers too, and vitest refuses to load outside its runner). */
const onTestFinished = process.env.VITEST ? (await import('vitest')).onTestFinished : undefined;

/**
 * A child still running when the test that spawned it ends is killed then. A test that fails or
 * times out before its own cleanup (a `finally` that is never reached) left gateways running
 * for the tests after it (found 36 minutes later once). Spawned outside a test (in a hook), the
 * hook's own cleanup stops it.
 */
function killWhenTestEnds(proc: ChildProcess): void {
  try {
    onTestFinished?.(() => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    });
  } catch {
    // not inside a test
  }
}

/** Spawns the real CLI (from the TypeScript sources) with the given arguments. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): CliChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts'), ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return cliChild(proc);
}

/**
 * A spawned command's output, collected, and its exit. One that could not be started at all
 * (e.g. as another user who cannot enter the checkout) gets no 'exit': it resolves null at once,
 * with the reason in its stderr.
 */
export function cliChild(proc: ChildProcess): CliChild {
  killWhenTestEnds(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => {
    proc.on('exit', (code) => r(code));
    proc.on('error', (e) => {
      err += `could not start ${proc.spawnfile}: ${e.message}\n`;
      r(null);
    });
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}

/** All bytes of the buffer's SQLite files (database, WAL, shared memory) in a data folder. */
export function rawBufferBytes(dataDir: string): Buffer {
  const files = readdirSync(dataDir).filter((f) => /\.(db|sqlite)(-wal|-shm)?$/.test(f) || /-(wal|shm)$/.test(f));
  if (files.length === 0) throw new Error(`no database files in ${dataDir}`);
  return Buffer.concat(files.map((f) => readFileSync(join(dataDir, f))));
}

/**
 * The last sequence number a running gateway's buffer has committed, read from its file (0 while
 * the file is not there or is being written): how a test sees readings arrive in another process.
 */
export function committedSeq(dataDir: string): number {
  try {
    return readBufferStats(dataDir)?.lastSeq ?? 0;
  } catch {
    return 0;
  }
}
