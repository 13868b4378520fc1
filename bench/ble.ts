/**
 * BLE ingest benchmark: CPU time of the gateway side per 1,000 notifications, end to end
 * through noble (its HCI/L2CAP/ATT/GATT code over the simulated controller's UART), the BLE
 * adapter, Ingest and the real encrypted buffer, with N heart-rate straps (RR intervals)
 * notifying at R Hz. The simulated controller runs in its own process, so its CPU is not
 * counted. Goal (issue 13): under 5 % of one core at 50 straps x 25 Hz.
 *
 *   node --import tsx bench/ble.ts [--straps 50] [--hz 25] [--duration 20000] [--synchronous full|normal] [--sink buffer|null]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openBuffer } from '../src/buffer/index.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import { BleAdapter } from '../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../src/devices/ble/config.js';
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
/** --sink null: readings are dropped after the adapter (measures noble + adapter alone). */
const nullSink = arg('sink', 'buffer') === 'null';

const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'hardware-mocks/ble/world-cli.ts', '--straps', String(straps), '--interval', String(Math.round(1000 / hz))],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const next = async (): Promise<Record<string, unknown>> => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
const ask = async (): Promise<{ notificationsSent: number; connected: number }> => {
  child.stdin!.write('stats\n');
  return (await next()) as { notificationsSent: number; connected: number };
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
let dropped = 0;
const sink = nullSink ? { submit: async (inputs: readonly unknown[]): Promise<void> => void (dropped += inputs.length) } : ingest;
await adapter.start({ sink, events, log });
const t0 = Date.now();
for (;;) {
  const s = await ask();
  if (s.connected === straps) break;
  if (Date.now() - t0 > 120_000) throw new Error(`only ${s.connected} of ${straps} connected`);
  await new Promise((r) => setTimeout(r, 200));
}
// Let subscriptions settle, then measure.
await new Promise((r) => setTimeout(r, 2000));
const s0 = await ask();
const c0 = process.cpuUsage();
const w0 = performance.now();
const i0 = ingest.committed;
const d0 = dropped;
await new Promise((r) => setTimeout(r, durationMs));
const s1 = await ask();
const c1 = process.cpuUsage(c0);
const wall = performance.now() - w0;
const committed = nullSink ? dropped - d0 : ingest.committed - i0;
const notifications = s1.notificationsSent - s0.notificationsSent;
const cpuMs = (c1.user + c1.system) / 1000;
const result = {
  straps,
  hz,
  durationMs: Math.round(wall),
  notifications,
  notificationsPerSecond: Math.round((notifications * 1000) / wall),
  readingsCommitted: committed,
  cpuMsPer1000Notifications: Number(((cpuMs * 1000) / notifications).toFixed(1)),
  cpuShareOfOneCore: Number((cpuMs / wall).toFixed(3)),
  rejected: await events.count('frame_rejected'),
  refused: await events.count('reading_refused'),
  synchronous,
  sink: nullSink ? 'null (noble + adapter only)' : 'buffer',
  cpu: cpus()[0]?.model,
  node: process.version,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
await adapter.stop();
clearInterval(drain);
child.stdin!.write('quit\n');
await new Promise((r) => child.once('exit', r));
await buffer.close();
rmSync(root, { recursive: true, force: true });
process.exit(0);
