/**
 * What bench/drain.ts and bench/forwarder.ts share: command-line flags, the V8 flags of the
 * installed `wardgate`, the measured children (compiled with tsc, or under tsx), the encrypted
 * backlog, their own broker (stopped and cleaned on failure or interrupt) and the exit handling.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getOrCreateGatewayId, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { type SyntheticOptions, syntheticPending } from '../../test/forwarder/synthetic.js';
import { startBroker, stopBroker } from '../../test/helpers/kafka.js';

/** The repository (in a compiled child: its build folder, which has no bin/; read by the parent only). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The value after `--name` on the command line, or `def`. */
export const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};

/** The V8 flags the installed `wardgate` command runs with: those on bin/wardgate.js's first line. */
export function shippedNodeOptions(): string {
  const first = readFileSync(join(REPO, 'bin/wardgate.js'), 'utf8').split('\n', 1)[0]!;
  return first
    .split(/\s+/)
    .filter((w) => w.startsWith('--'))
    .join(' ');
}

/** V8 options for the child processes: --node-options (default: the shipped ones; "none": V8's defaults); read by the parent only. */
export function childNodeOptions(): string[] {
  const opts = arg('child', '') ? 'none' : arg('node-options', shippedNodeOptions());
  return opts === 'none' ? [] : opts.split(' ').filter(Boolean);
}

/** Compiles the benchmark `entry` (repository-relative .ts, and what it imports) with tsc into `root`/build; returns the compiled entry. */
export function compileChild(root: string, entry: string): string {
  const out = join(root, 'build');
  const tsconfig = join(root, 'tsconfig.bench.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.json'),
      compilerOptions: { noEmit: false, outDir: out, rootDir: REPO, sourceMap: false, typeRoots: [join(REPO, 'node_modules/@types')] },
      include: [],
      // kafka-global.ts declares the vitest context test/helpers/kafka.ts reads.
      // client-worker.ts is loaded by URL (worker thread), not imported: list it.
      files: [join(REPO, entry), join(REPO, 'test/setup/kafka-global.ts'), join(REPO, 'src/forwarder/client-worker.ts')],
    }),
  );
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  symlinkSync(join(REPO, 'node_modules'), join(out, 'node_modules'));
  return join(out, entry.replace(/\.ts$/, '.js'));
}

/** How to start a child of the benchmark at `entryUrl` (its import.meta.url; `entry` repository-relative): compiled, or under tsx with --tsx-children. */
export function childEntryFor(root: string, entryUrl: string, entry: string): string[] {
  return process.argv.includes('--tsx-children') ? ['--import', 'tsx', fileURLToPath(entryUrl)] : [compileChild(root, entry)];
}

/** Runs `--child mode` with this process's arguments and `extra`; resolves with the JSON on its last stdout line. */
export function runChild<T>(nodeOpts: string[], childEntry: string[], mode: string, extra: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeOpts, ...childEntry, '--child', mode, ...process.argv.slice(2), ...extra], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`child ${mode} exited with ${code}: ${out}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

/** Appends `n` synthetic readings (an hour old) to a new encrypted buffer in `dataDir`; returns the ms the appends took. */
export async function buildBacklog(dataDir: string, n: number, synth: SyntheticOptions): Promise<number> {
  const keyFile = join(dataDir, 'wardgate.key');
  generateKeyFile(keyFile);
  const gatewayId = getOrCreateGatewayId(dataDir, 'gw-bench');
  const log = silentLogger();
  const buffer = await openBuffer({ dir: dataDir, keyFile, gatewayId, events: new Events(log), log });
  const t0 = Date.now();
  const old = Date.now() - 3_600_000;
  for (let i = 0; i < n; i += 4096) {
    const m = Math.min(4096, n - i);
    await buffer.append(Array.from({ length: m }, (_, k) => syntheticPending(i + k, synth, old + Math.floor((i + k) / 300))));
  }
  const ms = Date.now() - t0;
  await buffer.close();
  return ms;
}

/**
 * Prepares the children (`prepare`, e.g. childEntryFor) and starts a broker of its own in
 * `root`/kafka (scripts/kafka-local.sh); on failure, or when interrupted later, no broker and no
 * `root` are left behind.
 */
export async function startOwnBroker(root: string, prepare: () => void): Promise<{ brokers: string; kafkaDir: string }> {
  const kafkaDir = join(root, 'kafka');
  let brokers = '';
  try {
    prepare();
    brokers = await startBroker({
      dir: kafkaDir,
      timeoutMs: 180_000,
      ...(process.env.KAFKA_VERSION ? { env: { KAFKA_VERSION: process.env.KAFKA_VERSION } } : {}),
    });
  } catch (e) {
    await stopBroker({ dir: kafkaDir }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void stopBroker({ dir: kafkaDir })
        .catch(() => undefined)
        .finally(() => {
          rmSync(root, { recursive: true, force: true });
          process.exit(130);
        });
    });
  }
  return { brokers, kafkaDir };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Exits 0 when `done` resolves, 1 with the error's stack when it rejects. */
export function exitWhen(done: Promise<unknown>): void {
  done.then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
