/**
 * Serial benchmark.
 *  (a) Decoding throughput per protocol on one core: a session (framing + decoding, the
 *      production code) fed the reference's example frames in 4 KiB chunks; frames/s, MB/s,
 *      readings/s.
 *  (b) CPU share of 30 monitors at their real update rates through the real adapter and the
 *      real encrypted buffer: 10 IntelliVue (polled every 1 s), 10 GE S/5 (displayed values every
 *      5 s), 10 Masimo oximeters (1 line/s), each on its own socat pty pair, the simulators in a
 *      child process. CPU of this (gateway) process, as % of one core, in `rounds` windows after
 *      a warm-up; the median of the rounds is the figure (the machine is shared), with each
 *      round and the split by thread (main, libuv pool, V8 workers) beside it. Goal: under 2 %.
 *
 *   node --import tsx bench/serial.ts [--phase all|decode|monitors] [--seconds 2] [--window 10000] [--rounds 5] [--monitors 10,10,10] [--sink buffer|count]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GeS5Simulator } from '../hardware-mocks/ge-s5.js';
import { IntellivueSimulator } from '../hardware-mocks/intellivue.js';
import { MasimoSimulator } from '../hardware-mocks/masimo.js';
import { PtyPair } from '../hardware-mocks/serial/pty.js';
import { openBuffer } from '../src/buffer/index.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { SerialAdapter } from '../src/devices/serial/adapter.js';
import type { SerialProtocolName } from '../src/devices/serial/config.js';
import { serialConfigSchema } from '../src/devices/serial/config.js';
import { PROTOCOLS } from '../src/devices/serial/protocols/index.js';
import { Ingest } from '../src/ingest.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import { hex, REF } from '../test/serial/vectors.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};

const STREAMS: Record<SerialProtocolName, { frame: Buffer; options?: Record<string, unknown> }> = {
  intellivue: { frame: hex(REF['V-PH-7']!) },
  'ge-s5': { frame: hex(REF['V-GE-5']!) },
  masimo: {
    frame: Buffer.from(
      '01/07/25 19:18:24 SN=0000012345 SPO2=098% BPM=072 PI=02.35% SPCO=00.9% SPMET=00.6% DESAT=00 PIDELTA=+00 PVI=014 ALARM=0000 EXC=000800\r\n',
    ),
  },
  nonin: { frame: hex('80 48 62 00') },
  medibus: { frame: hex('01 24 45 42 20 39 38 20 45 31 20 37 30 20 37 41 0D') },
  line: { frame: Buffer.from('$WG1,bed12-oxi,2025-01-07T19:18:24Z,SPO2=98,PR=72,PI=2.35,ST=0*54\r\n'), options: { format: 'wg1' } },
};

function decodeBench(seconds: number): void {
  console.log(`(a) decoding on one core, ${seconds} s per protocol`);
  console.log('protocol      frames/s      MB/s   readings/s');
  for (const [name, s] of Object.entries(STREAMS) as [SerialProtocolName, (typeof STREAMS)[SerialProtocolName]][]) {
    const per = Math.max(1, Math.floor(4096 / s.frame.length));
    const chunk = Buffer.concat(Array.from({ length: per }, () => s.frame));
    const session = PROTOCOLS[name].createSession({ pollIntervalMs: 1000, ...(s.options ? { options: s.options } : {}) });
    session.open(0);
    let frames = 0;
    let readings = 0;
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    const end = t0 + BigInt(seconds * 1e9);
    while (process.hrtime.bigint() < end) {
      for (let i = 0; i < 50; i++) {
        const out = session.data(chunk, 0);
        frames += out.frames;
        readings += out.readings.length;
        bytes += chunk.length;
      }
    }
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(
      `${name.padEnd(12)} ${(frames / dt).toFixed(0).padStart(9)} ${(bytes / dt / 1e6).toFixed(1).padStart(9)} ${(readings / dt).toFixed(0).padStart(12)}`,
    );
  }
}

/**
 * CPU ticks (1/100 s) of this process's threads, from /proc (Linux): the main thread, and the others together
 * (libuv's pool, which does the serial reads and writes and the buffer's fsyncs, and V8's workers: on Node 20
 * they all share the name 'node'); minus `since` when given.
 */
function threadTicks(since?: Record<string, number> | null): Record<string, number> | null {
  try {
    const out: Record<string, number> = {};
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(process.pid) ? 'main' : name === 'node' ? 'other threads' : name;
      out[key] = (out[key] ?? 0) + Number(f[11]) + Number(f[12]);
    }
    if (since) for (const k of Object.keys(out)) out[k]! -= since[k] ?? 0;
    return out;
  } catch {
    return null;
  }
}

async function monitorsBench(windowMs: number, rounds: number, counts: number[]): Promise<void> {
  const [nPh, nGe, nMa] = counts as [number, number, number];
  const total = nPh + nGe + nMa;
  console.log(
    `(b) ${nPh} IntelliVue (1 s polls), ${nGe} GE S/5 (5 s), ${nMa} Masimo (1 Hz) through the adapter and the real buffer, ${rounds} rounds of ` +
      `${windowMs / 1000} s`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-serial-bench-'));
  const pairs = Array.from({ length: total }, (_, i) => new PtyPair(dir, `m${i}`));
  await Promise.all(pairs.map((p) => p.plug()));
  const protocols: SerialProtocolName[] = [...Array(nPh).fill('intellivue'), ...Array(nGe).fill('ge-s5'), ...Array(nMa).fill('masimo')];
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL(import.meta.url).pathname, '--child', JSON.stringify(pairs.map((p, i) => [protocols[i], p.device]))],
    { stdio: 'inherit' },
  );
  const keyFile = join(dir, 'k');
  generateKeyFile(keyFile);
  const log = silentLogger();
  const events = new Events(log);
  const buffer = await openBuffer({ dir: join(dir, 'data'), keyFile, gatewayId: 'bench', events, log });
  // --sink count: readings counted and dropped, no buffer (to see the serial side's own share).
  const ingest =
    arg('sink', 'buffer') === 'count'
      ? {
          committed: 0,
          async submit(xs: readonly unknown[]) {
            this.committed += xs.length;
          },
        }
      : new Ingest(buffer, events, { clockSkewToleranceMs: 120_000 });
  const adapter = new SerialAdapter(serialConfigSchema.parse({ ports: pairs.map((p, i) => ({ path: p.host, protocol: protocols[i], bed: `B${i}` })) }));
  await adapter.start({ sink: ingest, events, log });
  // Warm up: associations, first records, SQLite.
  await new Promise((r) => setTimeout(r, 8000));
  const shares: number[] = [];
  const threads0 = threadTicks();
  const committed0 = ingest.committed;
  const tAll = performance.now();
  for (let round = 0; round < rounds; round++) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, windowMs));
    const cpu = process.cpuUsage(cpu0);
    const dt = performance.now() - t0;
    const share = ((cpu.user + cpu.system) / 1000 / dt) * 100;
    shares.push(share);
    console.log(
      `  round ${round + 1}: ${share.toFixed(2)} % of one core (user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms ` +
        `over ${(dt / 1000).toFixed(1)} s)`,
    );
  }
  const dtAll = performance.now() - tAll;
  const readings = ingest.committed - committed0;
  const sorted = [...shares].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  console.log(`  readings committed: ${readings} (${(readings / (dtAll / 1000)).toFixed(0)}/s), healthy ports: ${adapter.status().devices}/${total}`);
  const threads = threadTicks(threads0);
  if (threads)
    console.log(
      `  by thread over all rounds (% of one core): ${Object.entries(threads)
        .map(([name, ticks]) => `${name} ${(((ticks * 10) / dtAll) * 100).toFixed(2)}`)
        .join(', ')}`,
    );
  console.log(
    `  gateway CPU, median of ${rounds} rounds: ${median.toFixed(2)} % of one core (min ${sorted[0]!.toFixed(2)}, max ` +
      `${sorted[sorted.length - 1]!.toFixed(2)}) on ${cpus()[0]?.model ?? 'unknown CPU'}, load average ${loadavg()[0]!.toFixed(1)}; goal < 2 %`,
  );
  await adapter.stop();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await buffer.close();
  await Promise.all(pairs.map((p) => p.unplug()));
  rmSync(dir, { recursive: true, force: true });
}

async function child(spec: [SerialProtocolName, string][]): Promise<void> {
  const sims = spec.map(([p, port], i) =>
    p === 'intellivue'
      ? new IntellivueSimulator({ port, seed: i + 1 })
      : p === 'ge-s5'
        ? new GeS5Simulator({ port, seed: i + 1 })
        : new MasimoSimulator({ port, seed: i + 1 }),
  );
  for (const s of sims) s.start();
  process.on('SIGTERM', () => void Promise.all(sims.map((s) => s.stop())).then(() => process.exit(0)));
}

const childSpec = process.argv.indexOf('--child');
if (childSpec >= 0) await child(JSON.parse(process.argv[childSpec + 1]!) as [SerialProtocolName, string][]);
else {
  const phase = arg('phase', 'all');
  if (phase !== 'monitors') decodeBench(Number(arg('seconds', '2')));
  if (phase !== 'decode') await monitorsBench(Number(arg('window', '10000')), Number(arg('rounds', '5')), arg('monitors', '10,10,10').split(',').map(Number));
}
