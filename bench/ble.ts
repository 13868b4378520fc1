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
 *   node --import tsx bench/ble.ts [--straps 50] [--hz 25] [--duration 20000] [--rounds 5] [--baseline null|none] [--floor yes|no]
 *     [--delivery-ms -1] [--synchronous full|normal] [--profile file.cpuprofile]
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
const buffer = await openBuffer({ dir: join(root, 'data'), keyFile, gatewayId: 'gw-bench-ble', events, log, synchronous });
const ingest = new Ingest(buffer, events, { clockSkewToleranceMs: 120_000 });
// The buffer is drained as Kafka would, so it stays small.
const drain = setInterval(() => {
  for (let l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 28 }); l; l = buffer.lease({ maxReadings: 10_000, maxBytes: 1 << 28 })) buffer.ack(l.id);
}, 200);
const adapter = new BleAdapter(
  bleConfigSchema.parse({
    hci: { uart: { port: hello.hostPort } },
    maxConnections: straps,
    maxNotificationsPerSecond: hz * 4,
    devices: hello.addresses.map((address, i) => ({ address, bed: `BED-${i}` })),
  }),
);
let sinkMode: 'buffer' | 'null' = 'buffer';
const sink: Pick<Ingest, 'submit'> = { submit: (inputs) => (sinkMode === 'buffer' ? ingest.submit(inputs) : Promise.resolve()) };
await adapter.start({ sink, events, log });
const t0 = Date.now();
for (;;) {
  const s = await ask();
  if (s.connected === straps && s.subscribed === straps) break;
  if (Date.now() - t0 > 120_000) throw new Error(`only ${s.connected} of ${straps} connected`);
  await new Promise((r) => setTimeout(r, 200));
}
// Let subscriptions settle, then measure.
await new Promise((r) => setTimeout(r, 2000));
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
  notifications: number;
  hostReads: number;
  /** Links with notifications enabled at the end of the round (the adapter unsubscribes while the buffer lags). */
  subscribedAtEnd: number;
  /** Notifications offered / straps x hz x round: below 0.9 the simulated world (its own process) did not keep up. */
  offered: number;
  cpuMsPer1000Notifications: number;
  cpuShareOfOneCore: number;
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
const measure = async (mode: Mode, ms: number): Promise<Round> => {
  if (mode !== 'noble') sinkMode = mode;
  const s0 = await ask();
  const t0 = threadCpu();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const s1 = await ask();
  const c = process.cpuUsage(c0);
  if (mode === 'buffer') for (const [k, v] of threadCpu()) threadTotals.set(k, (threadTotals.get(k) ?? 0) + v - (t0.get(k) ?? 0));
  const wall = performance.now() - w0;
  const notifications = s1.notificationsSent - s0.notificationsSent;
  const cpuMs = (c.user + c.system) / 1000;
  return {
    sink: mode,
    notifications,
    hostReads: s1.writes - s0.writes,
    subscribedAtEnd: s1.subscribed,
    offered: Number((notifications / ((straps * hz * wall) / 1000)).toFixed(2)),
    cpuMsPer1000Notifications: Number(((cpuMs * 1000) / notifications).toFixed(1)),
    cpuShareOfOneCore: Number((cpuMs / wall).toFixed(4)),
  };
};
// Rounds alternate (when --baseline null) between the full path and noble + adapter alone, so
// both are measured under the same machine load.
const rounds: Round[] = [];
const i0 = ingest.committed;
for (let r = 0; r < roundCount; r++) {
  rounds.push(await measure('buffer', durationMs / roundCount));
  if (baselineNull) rounds.push(await measure('null', durationMs / roundCount));
}
const committed = ingest.committed - i0;

// The floor: noble alone (its UART transport, HCI, L2CAP, ATT, GATT) subscribed to the same
// straps, values counted and dropped, no adapter. Measured after the adapter has stopped.
const floorRounds: Round[] = [];
if (withFloor) {
  await adapter.stop();
  const noble = nobleFactory({ uart: { port: hello.hostPort, baudRate: 1_000_000 } })();
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
  const t1 = Date.now();
  for (;;) {
    const s = await ask();
    if (s.connected === straps && s.subscribed === straps && !busy) break;
    if (Date.now() - t1 > 120_000) throw new Error(`floor: only ${s.connected} of ${straps} connected`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await noble.stopScanningAsync();
  await new Promise((r) => setTimeout(r, 2000));
  for (let r = 0; r < roundCount; r++) floorRounds.push(await measure('noble', durationMs / roundCount));
  if (values === 0) throw new Error('floor: noble delivered no values');
  stopNoble(noble);
}
if (session) {
  const { profile } = await session.post('Profiler.stop');
  (await import('node:fs')).writeFileSync(profileFile, JSON.stringify(profile));
}
// Only rounds at the full offered rate count (on an overloaded machine the world may fall behind).
const valid = (r: Round): boolean => r.offered >= 0.9;
const full = rounds.filter((r) => r.sink === 'buffer' && valid(r));
const base = rounds.filter((r) => r.sink === 'null' && valid(r));
const floorValid = floorRounds.filter(valid);
const medFull = median(full.map((r) => r.cpuShareOfOneCore));
const medBase = base.length ? median(base.map((r) => r.cpuShareOfOneCore)) : null;
const result = {
  straps,
  hz,
  deliveryMs,
  roundMs: durationMs / roundCount,
  notificationsPerSecond: Math.round((median(full.map((r) => r.notifications)) * 1000 * roundCount) / durationMs),
  hostReadsPerNotification: Number((median(full.map((r) => r.hostReads)) / median(full.map((r) => r.notifications))).toFixed(3)),
  readingsCommitted: committed,
  median: {
    cpuMsPer1000Notifications: median(full.map((r) => r.cpuMsPer1000Notifications)),
    cpuShareOfOneCore: medFull,
    ...(medBase !== null
      ? {
          nobleAndAdapterOnly: { cpuMsPer1000Notifications: median(base.map((r) => r.cpuMsPer1000Notifications)), cpuShareOfOneCore: medBase },
          ratioEndToEndToNobleAndAdapter: Number((medFull / medBase).toFixed(2)),
        }
      : {}),
  },
  ...(floorValid.length
    ? {
        nobleFloor: {
          cpuMsPer1000Notifications: median(floorValid.map((r) => r.cpuMsPer1000Notifications)),
          cpuShareOfOneCore: median(floorValid.map((r) => r.cpuShareOfOneCore)),
          ratioEndToEndToFloor: Number((medFull / median(floorValid.map((r) => r.cpuShareOfOneCore))).toFixed(2)),
        },
      }
    : {}),
  goal: { cpuShareOfOneCore: 0.05, roundsMeetingIt: `${full.filter((r) => r.cpuShareOfOneCore < 0.05).length}/${full.length}` },
  roundsAtFullRate: `${rounds.filter(valid).length + floorValid.length}/${rounds.length + floorRounds.length}`,
  rounds: [...rounds, ...floorRounds],
  adapterStatus: adapter.status().detail,
  /** CPU ms per 1,000 notifications by thread (full-path rounds; /proc clock ticks: 10 ms resolution). */
  threadsMsPer1000Notifications: Object.fromEntries(
    [...threadTotals].map(([k, v]) => [k, Number(((v * 1000) / full.reduce((a, r) => a + r.notifications, 0)).toFixed(1))]),
  ),
  rejected: await events.count('frame_rejected'),
  refused: await events.count('reading_refused'),
  synchronous,
  cpu: cpus()[0]?.model,
  loadAverage: loadavg().map((l) => Number(l.toFixed(1))),
  node: process.version,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (!withFloor) await adapter.stop();
clearInterval(drain);
child.stdin!.write('quit\n');
await new Promise((r) => child.once('exit', r));
await buffer.close();
rmSync(root, { recursive: true, force: true });
process.exit(0);
