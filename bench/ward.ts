/**
 * A 30-bed ward at real rates through the shipped command (issue 16 goal 3):
 *   node --import tsx bench/ward.ts [--duration 300s] [--warmup 20s] [--monitors 30] [--wearables 60] [--sensors 100]
 *     [--sensor-interval 1000] [--brokers 127.0.0.1:9092] [--client kafkajs|platformatic] [--cpu-prof DIR] [--keep]
 *     [--v8-flags "--flag ..."] [--jit]
 *
 * The gateway is `bin/wardgate.js run` (npm run build first) in a process of its own, with the V8
 * flags of its shebang line; the devices are simulated in this process and reach it through the
 * real interfaces: `--monitors` Philips IntelliVue monitors on socat pty pairs (the gateway polls
 * numerics at 1 Hz), `--wearables` BLE wearables (heart-rate straps with RR intervals, pulse
 * oximeters, thermometers, BP cuffs in rotation, one reading set a second each) behind the
 * simulated HCI controller on a pty, `--sensors` MQTT pulse oximeters publishing one JSON message
 * (2 readings) every `--sensor-interval` ms at QoS 1 to the embedded broker, each on its own phase.
 * Kafka: a broker of its own (scripts/kafka-local.sh in a temporary folder) unless --brokers.
 *
 * Measured over the window after the warm-up, for the gateway process only:
 *  - CPU: utime + stime from /proc/PID/stat, as % of one core;
 *  - memory: peak RSS (VmHWM, whole run) and RSS at the end;
 *  - event-loop delay p50/p99/max: a monitorEventLoopDelay histogram (20 ms resolution) loaded
 *    with --import into the gateway process, over the window (its timer is in the CPU figure: 50
 *    wake-ups a second; the gateway's own probe, src/metrics/loop-delay.ts, samples every 100 ms);
 *  - garbage collection: the main thread's pauses by kind (perf_hooks 'gc' entries) and the old
 *    space's largest use (sampled every second) over the window, from the same probe;
 *  - readings committed and forwarded per second (the gateway's status file), bytes written to
 *    disk per committed reading (/proc/PID/io write_bytes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startBleWard } from '../hardware-mocks/ble/ward.js';
import { SimulatedSensor } from '../hardware-mocks/mqtt-sensors.js';
import { startSerialWard } from '../hardware-mocks/serial/ward.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { readStatusFile, statusFilePath } from '../src/status-file.js';
import { startBroker, stopBroker } from '../test/helpers/kafka.js';
import { freePort } from '../test/helpers/ports.js';
import { followJit, jitLine } from './jit.js';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const seconds = (s: string): number => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new Error(`not a duration: ${s}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
};
const DURATION = seconds(arg('duration', '300s'));
const WARMUP = seconds(arg('warmup', '20s'));
const MONITORS = Number(arg('monitors', '30'));
const WEARABLES = Number(arg('wearables', '60'));
const SENSORS = Number(arg('sensors', '100'));
const SENSOR_INTERVAL = Number(arg('sensor-interval', '1000'));
const V8_FLAGS = arg('v8-flags', '').split(' ').filter(Boolean);
const JIT = process.argv.includes('--jit');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The probe loaded into the gateway process, over the measured window, written at exit: an
 * event-loop delay histogram, and the garbage collector's pauses on the main thread by kind
 * (perf_hooks 'gc' entries: count and milliseconds) with the old space's largest use seen.
 */
const PROBE = `
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { writeFileSync } from 'node:fs';
const h = monitorEventLoopDelay({ resolution: 20 });
h.enable();
const KINDS = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb' };
let gc = {};
let oldMax = 0;
let measuring = false;
new PerformanceObserver((list) => {
  if (!measuring) return;
  for (const e of list.getEntries()) {
    const k = KINDS[e.detail?.kind] ?? 'other';
    gc[k] ??= { n: 0, ms: 0 };
    gc[k].n++;
    gc[k].ms += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
setInterval(() => {
  if (!measuring) return;
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  if (old) oldMax = Math.max(oldMax, old.space_used_size);
}, 1000).unref();
setTimeout(() => { h.reset(); measuring = true; }, Number(process.env.WG_LOOP_PROBE_WARMUP_MS || 0)).unref();
process.on('exit', () => {
  const ms = (ns) => ns / 1e6;
  const loop = { count: h.count, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  writeFileSync(process.env.WG_LOOP_PROBE, JSON.stringify({ ...loop, gc, oldMax }));
});
`;

/** The V8 flags of bin/wardgate.js's shebang line (the shipped command's). */
function shippedFlags(): string[] {
  const first = readFileSync(join(REPO, 'bin/wardgate.js'), 'utf8').split('\n')[0]!;
  return first.split(/\s+/).filter((w) => w.startsWith('--'));
}

function procStat(pid: number): { cpuTicks: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { cpuTicks: Number(f[11]) + Number(f[12]) }; // utime, stime (fields 14, 15)
}
function procStatus(pid: number, key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s*(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
function procWriteBytes(pid: number): number {
  const m = /write_bytes:\s*(\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

async function main(): Promise<void> {
  if (!existsSync(join(REPO, 'dist/src/cli/main.js'))) throw new Error('run `npm run build` first (bench/ward.ts runs the shipped bin/wardgate.js)');
  const root = mkdtempSync(join(tmpdir(), 'wg-bench-ward-'));
  const kafkaDir = join(root, 'kafka');
  let brokers = arg('brokers', '');
  const ownBroker = brokers === '';
  const cleanups: (() => Promise<void>)[] = [];
  let gw: ChildProcess | undefined;
  try {
    if (ownBroker) {
      const t0 = Date.now();
      brokers = await startBroker({ dir: kafkaDir, timeoutMs: 180_000 });
      cleanups.push(() => stopBroker({ dir: kafkaDir }));
      process.stderr.write(`broker ${brokers} up in ${Date.now() - t0} ms\n`);
    }
    const say = (m: string) => process.stderr.write(`${new Date().toISOString()} ${m}\n`);
    const serial = MONITORS > 0 ? await startSerialWard([['intellivue', MONITORS]], 16) : null;
    if (serial) cleanups.push(() => serial.stop());
    say(`${MONITORS} serial monitors up`);
    const ble = WEARABLES > 0 ? await startBleWard(WEARABLES, 16) : null;
    if (ble) cleanups.push(() => ble.stop());
    say(`${WEARABLES} BLE wearables up`);
    const mqttPort = await freePort();
    const dataDir = join(root, 'data');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    generateKeyFile(join(dataDir, 'wardgate.key'));
    const tag = `ward-${Date.now().toString(36)}`;
    const config = {
      gateway: { dataDir },
      kafka: {
        brokers: [brokers],
        ...(arg('client', '') ? { client: arg('client', '') } : {}),
        topics: { alarm: `${tag}.alarms`, vital: `${tag}.vitals`, status: `${tag}.status`, waveform: `${tag}.waveforms` },
      },
      devices: {
        simulator: { enabled: false },
        ...(serial ? { serial: { ports: serial.ports } } : {}),
        ...(ble ? { ble: { hci: { uart: { port: ble.hostPort } }, devices: ble.devices, maxConnections: Math.max(7, ble.devices.length) } } : {}),
        ...(SENSORS > 0
          ? {
              mqtt: {
                enabled: true,
                embedded: { tcp: { host: '127.0.0.1', port: mqttPort }, auth: { anonymous: { publish: ['ward/+/+/+'] } } },
                rules: [
                  {
                    topic: 'ward/{bed}/{device}/vitals',
                    decoder: {
                      type: 'json',
                      fields: [
                        { value: 'spo2', metric: 'spo2', unit: '%' },
                        { value: 'pr', metric: 'pulse_rate_oximeter', unit: '/min' },
                      ],
                      time: 'ts',
                    },
                  },
                ],
              },
            }
          : {}),
      },
      log: { level: 'warn' },
    };
    const cfgFile = join(root, 'wardgate.yaml');
    writeFileSync(cfgFile, stringify(config));
    const probe = join(root, 'loop-probe.mjs');
    writeFileSync(probe, PROBE);
    const probeOut = join(root, 'loop-probe.json');
    const stderr: string[] = [];
    const prof = arg('cpu-prof', '');
    gw = spawn(
      process.execPath,
      [
        ...shippedFlags(),
        ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
        ...V8_FLAGS,
        ...(JIT ? ['--trace-opt'] : []),
        '--import',
        probe,
        join(REPO, 'bin/wardgate.js'),
        'run',
        '--config',
        cfgFile,
      ],
      {
        env: { ...process.env, WG_LOOP_PROBE: probeOut, WG_LOOP_PROBE_WARMUP_MS: String(WARMUP * 1000) },
        stdio: ['ignore', JIT ? 'pipe' : 'ignore', 'pipe'],
      },
    );
    gw.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const jit = JIT ? followJit(gw.stdout!) : undefined;
    let gone = false;
    const exited = new Promise<number | null>((r) =>
      gw!.once('exit', (code) => {
        gone = true;
        r(code);
      }),
    );
    const pid = gw.pid!;
    const status = () => readStatusFile(statusFilePath(dataDir));
    for (let i = 0; i < 300 && !status(); i++) await sleep(100);
    if (!status()) throw new Error(`the gateway did not start: ${stderr.join('')}`);
    const tStart = Date.now();
    say(`gateway ${pid} started`);

    // MQTT sensors, each on its own phase.
    const sensors: SimulatedSensor[] = [];
    let published = 0;
    let pubErrors = 0;
    for (let i = 0; i < SENSORS; i++) {
      const s = new SimulatedSensor({
        url: `mqtt://127.0.0.1:${mqttPort}`,
        clientId: `bench-ox-${i}`,
        bed: `MQ-${String(Math.floor(i / 4) + 1).padStart(2, '0')}`,
        device: `ox${i}`,
        format: 'json',
        seed: 100 + i,
      });
      for (let attempt = 1; ; attempt++) {
        try {
          await s.connect();
          break;
        } catch (e) {
          if (attempt >= 20) throw new Error(`MQTT sensor ${i}: ${(e as Error).message}; gateway: ${stderr.join('').slice(-2000)}`);
          await s.end().catch(() => undefined);
          await sleep(500);
        }
      }
      sensors.push(s);
    }
    say(`${SENSORS} MQTT sensors connected`);
    let running = true;
    const timers: NodeJS.Timeout[] = [];
    for (const [i, s] of sensors.entries()) {
      const tick = () => {
        if (!running) return;
        timers[i] = setTimeout(tick, SENSOR_INTERVAL * (0.95 + Math.random() * 0.1));
        s.publishReading().then(
          () => published++,
          () => pubErrors++,
        );
      };
      timers[i] = setTimeout(tick, Math.random() * SENSOR_INTERVAL);
    }
    cleanups.push(async () => {
      running = false;
      for (const t of timers) clearTimeout(t);
      await Promise.all(sensors.map((s) => s.end().catch(() => undefined)));
    });

    // Warm-up (devices connect, BLE links come up), then the measured window.
    await sleep(Math.max(0, WARMUP * 1000 - (Date.now() - tStart)));
    const s0 = status()!;
    const c0 = procStat(pid).cpuTicks;
    const w0 = procWriteBytes(pid);
    const t0 = Date.now();
    const rss: number[] = [];
    const end = t0 + DURATION * 1000;
    while (Date.now() < end) {
      await sleep(Math.min(5000, end - Date.now()));
      if (gone) throw new Error(`the gateway exited: ${stderr.join('').slice(-2000)}`);
      rss.push(procStatus(pid, 'VmRSS'));
      const s = status();
      if (s)
        process.stderr.write(
          `${Math.round((Date.now() - t0) / 1000)} s: ${s.ingestedTotal} committed, ${s.forwarder.forwarded} forwarded (${s.forwarder.state})\n`,
        );
    }
    const wall = (Date.now() - t0) / 1000;
    const jitWindow = jit?.summary(performance.now() - wall * 1000, performance.now());
    const cpu = (procStat(pid).cpuTicks - c0) / 100; // USER_HZ = 100 on Linux
    const wrote = procWriteBytes(pid) - w0;
    const peak = procStatus(pid, 'VmHWM');
    const s1 = status()!;
    gw.kill('SIGTERM');
    const code = await exited;
    gw = undefined;
    const loop = existsSync(probeOut)
      ? (JSON.parse(readFileSync(probeOut, 'utf8')) as {
          count: number;
          p50: number;
          p99: number;
          max: number;
          gc: Record<string, { n: number; ms: number }>;
          oldMax: number;
        })
      : undefined;
    const committed = s1.ingestedTotal - s0.ingestedTotal;
    const forwarded = s1.forwarder.forwarded - s0.forwarder.forwarded;
    const f = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
    const mib = (b: number) => f(b / 1024 / 1024, 1);
    process.stdout.write(
      `${[
        `ward: ${MONITORS} IntelliVue monitors (serial, 1 Hz numerics), ${WEARABLES} BLE wearables, ${SENSORS} MQTT sensors every ${SENSOR_INTERVAL} ` +
          `ms (QoS 1); ` +
          `gateway = node ${shippedFlags().join(' ')} bin/wardgate.js run; Kafka ${brokers} (client ` +
          `${arg('client', 'default')})${ownBroker ? ' (own broker)' : ''}; ${f(wall)} s measured after ${f(WARMUP)} s`,
        `readings committed ${f(committed / wall, 1)}/s, forwarded ${f(forwarded / wall, 1)}/s (MQTT messages acknowledged ${f(published)}, errors ` +
          `${pubErrors})`,
        `gateway CPU: ${f((cpu / wall) * 100, 2)} % of one core (goal <= 2 %), ${f((cpu * 1e6) / Math.max(1, committed), 1)} us per reading`,
        `Raspberry Pi 4 projection (a core 4-5x slower): ${f((cpu / wall) * 400, 1)}-${f((cpu / wall) * 500, 1)} % of one core`,
        `gateway memory: peak RSS ${mib(peak)} MiB (goal <= 150), RSS median ${mib([...rss].sort((a, b) => a - b)[Math.floor(rss.length / 2)] ?? NaN)} MiB`,
        loop
          ? `event-loop delay over the window (20 ms resolution): p50 ${f(loop.p50, 1)} ms, p99 ${f(loop.p99, 1)} ms, max ${f(loop.max, 1)} ms ` +
            `(${loop.count} samples)`
          : 'event-loop delay: no probe output',
        loop
          ? `garbage collection on the main thread over the window: ${
              Object.entries(loop.gc)
                .map(([k, v]) => `${k} ${v.n} pauses ${f(v.ms, 0)} ms`)
                .join(', ') || 'none'
            } (${f((Object.values(loop.gc).reduce((a, v) => a + v.ms, 0) / 1000 / wall) * 100, 2)} % of one core); old space at most ${mib(loop.oldMax)} MiB`
          : '',
        `bytes written by the gateway: ${f(wrote / Math.max(1, committed), 1)} B per committed reading (/proc/PID/io write_bytes)`,
        ...(jitWindow ? [jitLine(jitWindow, wall)] : []),
        `gateway exit code ${code}${stderr.length ? `; stderr: ${stderr.join('').slice(0, 500)}` : ''}`,
      ].join('\n')}\n`,
    );
  } finally {
    gw?.kill('SIGKILL');
    for (const c of cleanups.reverse()) {
      await Promise.race([c().catch((e) => process.stderr.write(`cleanup: ${(e as Error).message}\n`)), sleep(15_000)]);
    }
    if (!process.argv.includes('--keep')) rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  // The simulators' handles (BLE world, MQTT clients) are closed; exit without waiting on one left behind.
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
