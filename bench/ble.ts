/**
 * BLE ingest benchmark: CPU time of the gateway side per 1,000 notifications, end to end
 * through noble (its HCI/L2CAP/ATT/GATT code over the simulated controller's UART), the BLE
 * adapter, Ingest and the real encrypted buffer, with N heart-rate straps (RR intervals)
 * notifying at R Hz. The simulated controller runs in its own process, so its CPU is not
 * counted. Goal (issue 13): under 5 % of one core at 50 straps x 25 Hz.
 *
 * --duration is the total measuring time, cut into --rounds rounds; the figure is the median
 * round. With --baseline null (default) each round is followed by one in which the readings
 * are dropped after the adapter (noble + adapter alone), measured under the same load, and the
 * ratio of the two medians is reported. Last, the floor: bare noble subscribed to the same
 * straps without the adapter (--floor no skips it). --delivery-ms: how the simulated UART hands bytes to the
 * host (-1, the default: one write per HCI packet; 0: what one event-loop turn of the controller
 * produced, in one write; N: one write per N ms).
 *
 * noble's HCI layer runs on wardgate's UART transport (src/devices/ble/uart-socket.ts, what the
 * adapter uses). With --compare stock (default) every round, and the floor, is measured on
 * noble's stock UART transport as well, rounds in the order A B, B A, ... (each change of
 * transport reconnects every strap), and the ratios of the medians are reported.
 *
 *   node --import tsx bench/ble.ts [--straps 50] [--hz 25] [--duration 20000] [--rounds 5] [--baseline null|none] [--floor yes|no]
 *     [--compare stock|none] [--delivery-ms -1] [--synchronous full|normal] [--commit-interval ms] [--max-held n]
 *     [--read-pacing ms] [--profile file.cpuprofile]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openBuffer } from '../src/buffer/index.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { BleAdapter } from '../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../src/devices/ble/config.js';
import { type NoblePeripheral, nobleFactory, stopNoble } from '../src/devices/ble/noble.js';
import { Ingest } from '../src/ingest.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const straps = Number(arg('straps', '50'));
const hz = Number(arg('hz', '25'));
const durationMs = Number(arg('duration', '20000'));
const synchronous = arg('synchronous', 'full') as 'full' | 'normal';
const roundCount = Number(arg('rounds', '5'));
/** --baseline null: every round is followed by one whose readings are dropped after the adapter (noble + adapter alone). */
const baselineNull = arg('baseline', 'null') === 'null';
/** --floor no: skip the last phase, bare noble without the adapter (the floor of noble's own code). */
const withFloor = arg('floor', 'yes') !== 'no';
/** How the simulated UART hands bytes to the host (see ControllerOptions.deliveryMs). */
const deliveryMs = Number(arg('delivery-ms', '-1'));
/** --compare stock (default): every round is measured on noble's stock UART transport as well, in the same run (--compare none: wardgate's only). */
type Transport = 'wardgate' | 'stock';
const compared: Transport[] = arg('compare', 'stock') === 'stock' ? ['stock'] : [];
/** --read-pacing MS: wardgate's transport waits this long after each read of the UART (default: the gateway's devices.ble.hci.uart.readPacing; docs/ble.md). */
const readPacingMs = Number(arg('read-pacing', String(bleConfigSchema.parse({ hci: { uart: { port: '-' } } }).hci.uart!.readPacing)));
const transportOpts = (t: Transport) => ({ stockUart: t === 'stock', readPacingMs });

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'hardware-mocks/ble/world-cli.ts',
    '--straps',
    String(straps),
    '--interval',
    String(Math.round(1000 / hz)),
    '--delivery-ms',
    String(deliveryMs),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const next = async (): Promise<Record<string, unknown>> => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
interface WorldStats {
  notificationsSent: number;
  writes: number;
  subscribed: number;
  connected: number;
}
const ask = async (): Promise<WorldStats> => {
  child.stdin!.write('stats\n');
  return (await next()) as unknown as WorldStats;
};
const hello = (await next()) as { hostPort: string; addresses: string[] };

const root = mkdtempSync(join(tmpdir(), 'wardgate-bench-ble-'));
const keyFile = join(root, 'k.key');
generateKeyFile(keyFile);
const log = silentLogger();
const events = new Events(log);
/** --commit-interval N: the buffer's former fixed group commit interval instead of its default pacing (to see what commit frequency costs). */
const commitInterval = arg('commit-interval', '');
/** --max-held N: the adapter's maxHeldReadings (default: the config default). */
const maxHeld = arg('max-held', '');
const buffer = await openBuffer({
  dir: join(root, 'data'),
  keyFile,
  gatewayId: 'gw-bench-ble',
  events,
  log,
  synchronous,
  ...(commitInterval ? { commitIntervalMs: Number(commitInterval) } : {}),
});
const ingest = new Ingest(buffer, events, { clockSkewToleranceMs: 120_000 });
// The buffer is drained as Kafka would, so it stays small.
const drain = setInterval(() => {
  for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 28 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 28 })) buffer.ack(l.id);
}, 200);
const bleConfig = bleConfigSchema.parse({
  hci: { uart: { port: hello.hostPort } },
  maxConnections: straps,
  maxNotificationsPerSecond: hz * 4,
  ...(maxHeld ? { maxHeldReadings: Number(maxHeld) } : {}),
  devices: hello.addresses.map((address, i) => ({ address, bed: `BED-${i}` })),
});
let sinkMode: 'buffer' | 'null' = 'buffer';
const sink: Pick<Ingest, 'submit'> = { submit: (inputs) => (sinkMode === 'buffer' ? ingest.submit(inputs) : Promise.resolve()) };
let commits = 0;
buffer.onCommit(() => void commits++);

/** Waits until the simulated world has every strap connected and subscribed (and `ready`, when given, says so too), then 2 s more. */
const settled = async (what: string, ready: () => boolean = () => true): Promise<void> => {
  const t0 = Date.now();
  for (;;) {
    const s = await ask();
    if (s.connected === straps && s.subscribed === straps && ready()) break;
    if (Date.now() - t0 > 120_000) throw new Error(`${what}: only ${s.connected} of ${straps} connected, ${s.subscribed} subscribed`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 2000));
};

/** The adapter, on the given UART transport (a new one, all straps reconnected, when the transport changes). */
const current: { adapter: BleAdapter | null; transport: Transport | null } = { adapter: null, transport: null };
const useAdapter = async (t: Transport): Promise<void> => {
  if (current.transport === t) return;
  await current.adapter?.stop();
  const a = new BleAdapter(bleConfig, { noble: nobleFactory(bleConfig.hci, transportOpts(t)) });
  current.adapter = a;
  current.transport = t;
  await a.start({ sink, events, log });
  await settled(`adapter (${t} transport)`, () => a.status().devices === straps);
};
const transports: Transport[] = ['wardgate', ...compared];
await useAdapter('wardgate');
const profileFile = arg('profile', '');
const { Session } = await import('node:inspector/promises');
const session = profileFile ? new Session() : null;
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}

type Mode = 'buffer' | 'null' | 'noble';
interface Round {
  /** buffer: the whole path; null: readings dropped after the adapter; noble: bare noble, no adapter (the floor). */
  sink: Mode;
  /** The UART transport under noble's HCI layer: wardgate's (src/devices/ble/uart-socket.ts) or noble's stock one. */
  transport: Transport;
  notifications: number;
  hostReads: number;
  /** Links with notifications enabled at the end of the round (the adapter unsubscribes while the buffer lags). */
  subscribedAtEnd: number;
  /** Samples (every 100 ms) at which the adapter had unsubscribed because too many readings waited for the buffer. */
  pausedSamples: number;
  /** Notifications offered / straps x hz x round: below 0.9 the simulated world (its own process) did not keep up. */
  offered: number;
  /** Buffer commits (transactions) per second. */
  commitsPerSecond: number;
  cpuMsPer1000Notifications: number;
  cpuShareOfOneCore: number;
  /** The part of cpuShareOfOneCore spent in the kernel (system time: reads, polls, wake-ups, fsync). */
  systemShareOfOneCore: number;
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** CPU ms per thread name (Linux /proc/self/task), to see where the process's time goes. */
const threadCpu = (): Map<string, number> => {
  const m = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const comm = Number(tid) === process.pid ? 'main' : readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
        const f = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        m.set(comm, (m.get(comm) ?? 0) + ((Number(f[11]) + Number(f[12])) * 1000) / 100);
      } catch {
        /* the thread ended */
      }
    }
  } catch {
    /* not Linux */
  }
  return m;
};
const threadTotals = new Map<string, number>();
const measure = async (mode: Mode, transport: Transport, ms: number): Promise<Round> => {
  if (mode !== 'noble') sinkMode = mode;
  const s0 = await ask();
  const t0 = threadCpu();
  const k0 = commits;
  let pausedSamples = 0;
  const sampler = setInterval(() => {
    if (current.adapter?.status().detail?.includes('paused')) pausedSamples++;
  }, 100);
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const s1 = await ask();
  const c = process.cpuUsage(c0);
  clearInterval(sampler);
  if (mode === 'buffer' && transport === 'wardgate') for (const [k, v] of threadCpu()) threadTotals.set(k, (threadTotals.get(k) ?? 0) + v - (t0.get(k) ?? 0));
  const wall = performance.now() - w0;
  const notifications = s1.notificationsSent - s0.notificationsSent;
  const cpuMs = (c.user + c.system) / 1000;
  return {
    sink: mode,
    transport,
    notifications,
    hostReads: s1.writes - s0.writes,
    subscribedAtEnd: s1.subscribed,
    pausedSamples,
    offered: Number((notifications / ((straps * hz * wall) / 1000)).toFixed(2)),
    commitsPerSecond: Number((((commits - k0) * 1000) / wall).toFixed(1)),
    cpuMsPer1000Notifications: Number(((cpuMs * 1000) / notifications).toFixed(1)),
    cpuShareOfOneCore: Number((cpuMs / wall).toFixed(4)),
    systemShareOfOneCore: Number((c.system / 1000 / wall).toFixed(4)),
  };
};
// Rounds alternate (when --baseline null) between the full path and noble + adapter alone, so
// both are measured under the same machine load; with --compare stock, each round is measured
// on both transports, in the order A B, B A, A B, ... (one reconnect of every strap per round).
const rounds: Round[] = [];
const i0 = ingest.committed;
for (let r = 0; r < roundCount; r++) {
  for (const t of r % 2 ? [...transports].reverse() : transports) {
    await useAdapter(t);
    rounds.push(await measure('buffer', t, durationMs / roundCount));
    if (baselineNull) rounds.push(await measure('null', t, durationMs / roundCount));
  }
}
const committed = ingest.committed - i0;
const adapterStatus = current.adapter?.status().detail;

// The floor: noble alone (its HCI, L2CAP, ATT, GATT, on each transport) subscribed to the same
// straps, values counted and dropped, no adapter. Measured after the adapter has stopped.
const floorRounds: Round[] = [];
const floor = async (t: Transport): Promise<void> => {
  const noble = nobleFactory({ uart: { port: hello.hostPort, baudRate: 1_000_000, readPacing: readPacingMs } }, transportOpts(t))();
  let values = 0;
  const wanted = new Set(hello.addresses);
  const queue: NoblePeripheral[] = [];
  let busy = false;
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    for (let p = queue.shift(); p; p = queue.shift()) {
      try {
        await p.connectAsync();
        const { characteristics } = await p.discoverAllServicesAndCharacteristicsAsync();
        for (const c of characteristics)
          if (c.properties.includes('notify')) {
            c.on('data', () => void values++);
            await c.subscribeAsync();
          }
      } catch {
        wanted.add(p.address);
      }
    }
    busy = false;
  };
  noble.on('discover', (p: NoblePeripheral) => {
    if (!wanted.delete(p.address.toLowerCase())) return;
    queue.push(p);
    void pump();
  });
  noble.on('stateChange', (st: string) => {
    if (st === 'poweredOn') void noble.startScanningAsync([], true);
  });
  await settled(`floor (${t} transport)`, () => !busy && wanted.size === 0);
  await noble.stopScanningAsync();
  for (let r = 0; r < roundCount; r++) floorRounds.push(await measure('noble', t, durationMs / roundCount));
  if (values === 0) throw new Error('floor: noble delivered no values');
  stopNoble(noble);
  // Let the links drop (the simulated controller sees its host's end go quiet) before the next noble resets it.
  await new Promise((r) => setTimeout(r, 1000));
};
if (withFloor) {
  await current.adapter?.stop();
  current.adapter = null;
  for (const t of transports) await floor(t);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  (await import('node:fs')).writeFileSync(profileFile, JSON.stringify(profile));
}
// Only rounds at the full offered rate count (on an overloaded machine the world may fall behind).
const valid = (r: Round): boolean => r.offered >= 0.9;
const fix = (x: number, d = 4): number => Number(x.toFixed(d));
/** Median figures of one transport: the full path, noble + adapter, the floor, and their ratios. */
const summary = (t: Transport) => {
  const full = rounds.filter((r) => r.transport === t && r.sink === 'buffer' && valid(r));
  const base = rounds.filter((r) => r.transport === t && r.sink === 'null' && valid(r));
  const fl = floorRounds.filter((r) => r.transport === t && valid(r));
  const medFull = full.length ? median(full.map((r) => r.cpuShareOfOneCore)) : NaN;
  const part = (rs: Round[]) =>
    rs.length
      ? {
          cpuMsPer1000Notifications: median(rs.map((r) => r.cpuMsPer1000Notifications)),
          cpuShareOfOneCore: median(rs.map((r) => r.cpuShareOfOneCore)),
          ratioEndToEndToThis: fix(medFull / median(rs.map((r) => r.cpuShareOfOneCore)), 2),
        }
      : undefined;
  return {
    endToEnd: full.length
      ? {
          cpuMsPer1000Notifications: median(full.map((r) => r.cpuMsPer1000Notifications)),
          cpuShareOfOneCore: medFull,
          commitsPerSecond: median(full.map((r) => r.commitsPerSecond)),
          roundsMeetingGoal: `${full.filter((r) => r.cpuShareOfOneCore < 0.05).length}/${full.length}`,
        }
      : undefined,
    nobleAndAdapterOnly: part(base),
    nobleFloor: part(fl),
  };
};
const fullW = rounds.filter((r) => r.transport === 'wardgate' && r.sink === 'buffer' && valid(r));
const byTransport = Object.fromEntries(transports.map((t) => [t, summary(t)]));
const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b !== undefined ? fix(a / b, 2) : undefined);
const w = byTransport.wardgate;
const result = {
  straps,
  hz,
  deliveryMs,
  readPacingMs,
  roundMs: durationMs / roundCount,
  notificationsPerSecond: Math.round((median(fullW.map((r) => r.notifications)) * 1000 * roundCount) / durationMs),
  hostReadsPerNotification: fix(median(fullW.map((r) => r.hostReads)) / median(fullW.map((r) => r.notifications)), 3),
  readingsCommitted: committed,
  /** Medians of the valid rounds, per UART transport (wardgate: src/devices/ble/uart-socket.ts, the default; stock: noble's own). */
  median: byTransport,
  /** Each figure on wardgate's transport / on the other one, measured in this run. */
  ratioWardgateTo: Object.fromEntries(
    compared.map((t) => [
      t,
      {
        endToEnd: ratio(w?.endToEnd?.cpuShareOfOneCore, byTransport[t]?.endToEnd?.cpuShareOfOneCore),
        nobleAndAdapterOnly: ratio(w?.nobleAndAdapterOnly?.cpuShareOfOneCore, byTransport[t]?.nobleAndAdapterOnly?.cpuShareOfOneCore),
        nobleFloor: ratio(w?.nobleFloor?.cpuShareOfOneCore, byTransport[t]?.nobleFloor?.cpuShareOfOneCore),
      },
    ]),
  ),
  goal: { cpuShareOfOneCore: 0.05, met: (w?.endToEnd?.cpuShareOfOneCore ?? 1) < 0.05 },
  roundsAtFullRate: `${rounds.filter(valid).length + floorRounds.filter(valid).length}/${rounds.length + floorRounds.length}`,
  rounds: [...rounds, ...floorRounds],
  adapterStatus,
  /** CPU ms per 1,000 notifications by thread (full-path rounds on wardgate's transport; /proc clock ticks: 10 ms resolution). */
  threadsMsPer1000Notifications: Object.fromEntries(
    [...threadTotals].map(([k, v]) => [k, Number(((v * 1000) / fullW.reduce((a, r) => a + r.notifications, 0)).toFixed(1))]),
  ),
  rejected: await events.count('frame_rejected'),
  refused: await events.count('reading_refused'),
  synchronous,
  commitInterval: commitInterval ? Number(commitInterval) : 'default pacing',
  maxHeldReadings: bleConfig.maxHeldReadings,
  cpu: cpus()[0]?.model,
  loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
  node: process.version,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
await current.adapter?.stop();
clearInterval(drain);
child.stdin!.write('quit\n');
await new Promise((r) => child.once('exit', r));
await buffer.close();
rmSync(root, { recursive: true, force: true });
process.exit(0);
