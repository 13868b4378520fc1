/**
 * The simulated BLE world as its own process (for benchmarks: its CPU is not the gateway's).
 *   node --import tsx hardware-mocks/ble/world-cli.ts --straps 50 --interval 40 [--delivery-ms -1]
 * Prints one JSON line {hostPort, addresses}; then answers each "stats" line on stdin with
 * {notificationsSent, writes, subscribed, connected}; "strangers N" sends advertisements of N devices
 * not on any list and answers {strangers}; "quit" powers off (host barrier first) and exits.
 */
import { createInterface } from 'node:readline';
import { SimPeripheral } from './peripherals.js';
import { BleWorld } from './world.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const straps = arg('straps', 50);
const interval = arg('interval', 40);
const deliveryMs = arg('delivery-ms', -1);
const peripherals = Array.from(
  { length: straps },
  (_, i) =>
    new SimPeripheral({
      kind: 'hr_strap',
      address: `c0:ff:ee:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
      name: `WG-STRAP-${i}`,
      seed: 100 + i,
      intervalMs: interval,
    }),
);
const world = new BleWorld({ peripherals, maxConnections: straps + 1, advIntervalMs: 50, batteryEvery: 0, deliveryMs });
await world.powerOn();
console.log(JSON.stringify({ hostPort: world.hostPort, addresses: peripherals.map((p) => p.address) }));
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'stats')
    console.log(
      JSON.stringify({
        notificationsSent: world.controller.stats.notificationsSent,
        writes: world.controller.stats.writes,
        subscribed: world.controller.subscribedLinks(),
        connected: world.controller.connectedAddresses().length,
      }),
    );
  // "strangers N": advertising reports from N devices under addresses of their own (not on any allow-list), 200 at a time.
  const strangers = /^strangers (\d+)$/.exec(line);
  if (strangers) {
    let sent = 0;
    for (let left = Number(strangers[1]); left > 0; left -= 200) {
      sent += world.controller.advertiseStrangers(Math.min(200, left));
      await new Promise((r) => setImmediate(r));
    }
    console.log(JSON.stringify({ strangers: sent }));
  }
  if (line === 'quit') break;
}
await world.close();
process.exit(0);
