/**
 * Drain encoding benchmark (issue 11 item 2): CPU per reading to lease a backlog from the real
 * encrypted buffer and turn it into JSON v1 messages, two ways in the same run, interleaved:
 *   columns:  routeLease as the forwarder runs it (JSON v1 written from the decoded units' columns)
 *   objects:  the same leases routed from their Reading objects (Lease.readings made from the
 *             columns, then jsonV1Messages: the path JSON v1 took before)
 * `node --import tsx bench/drain-encode.ts [--readings 200000] [--batch 2000] [--rounds 6]`
 * Each round leases the whole backlog in batches of --batch (releasing each lease after routing,
 * so the buffer stays as it was), once per way and once leasing only (no routing: the buffer's
 * own share), alternating the order. Prints CPU µs per
 * reading (user + system, process.cpuUsage) per way, the median over rounds, and the ratio
 * columns/objects. The two ways' message bytes are compared once (they must be identical).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getOrCreateGatewayId, openBuffer } from '../src/buffer/index.js';
import type { Lease } from '../src/buffer/types.js';
import { generateKeyFile } from '../src/crypto/keys.js';
import type { TopicBatch } from '../src/forwarder/client.js';
import { type RoutingOptions, routeLease } from '../src/forwarder/routing.js';
import { silentLogger } from '../src/logger.js';
import { Events } from '../src/metrics/events.js';
import { syntheticPending } from '../test/forwarder/synthetic.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const N = Number(arg('readings', '200000'));
const BATCH = Number(arg('batch', '2000'));
const ROUNDS = Number(arg('rounds', '6'));
const SYNTH = { devices: 36, alarmEvery: 997, statusEvery: 50 };
const routing: RoutingOptions = { topics: { alarm: 'a', vital: 'v', status: 's', waveform: 'w' }, key: 'device' };

const root = mkdtempSync(join(tmpdir(), 'wg-drain-encode-'));
const log = silentLogger();
const keyFile = join(root, 'wardgate.key');
generateKeyFile(keyFile);
const gatewayId = getOrCreateGatewayId(root, 'gw-bench');
const buffer = await openBuffer({ dir: root, keyFile, gatewayId, events: new Events(log), log });
const old = Date.now() - 3_600_000;
for (let i = 0; i < N; i += 4096) {
  const m = Math.min(4096, N - i);
  await buffer.append(Array.from({ length: m }, (_, k) => syntheticPending(i + k, SYNTH, old + Math.floor((i + k) / 300))));
}

/** The lease as it was before units existed: routing makes JSON v1 from its Reading objects. */
const asObjects = (l: Lease): Lease => ({ id: l.id, priorityClass: l.priorityClass, bytes: l.bytes, partial: l.partial, readings: l.readings });

let sink = 0;
function drainOnce(way: 'columns' | 'objects' | 'lease'): { us: number; readings: number } {
  const held: number[] = [];
  let readings = 0;
  const c0 = process.cpuUsage();
  for (let l = buffer.lease({ maxReadings: BATCH, maxBytes: 64 << 20 }); l; l = buffer.lease({ maxReadings: BATCH, maxBytes: 64 << 20 })) {
    if (way === 'lease') readings += l.units!.reduce((a, u) => a + u.to - u.from, 0);
    else {
      const out: TopicBatch[] = routeLease(way === 'columns' ? l : asObjects(l), routing);
      for (const b of out) {
        readings += b.messages.length;
        sink += b.messages.length;
      }
    }
    held.push(l.id);
  }
  const c = process.cpuUsage(c0);
  for (const id of held) buffer.release(id);
  return { us: c.user + c.system, readings };
}

// Same bytes both ways (first lease).
{
  const l = buffer.lease({ maxReadings: BATCH, maxBytes: 64 << 20 })!;
  const hex = (bs: TopicBatch[]) => bs.map((b) => b.messages.map((m) => Buffer.from(m.value as Buffer).toString('hex')).join()).join();
  if (hex(routeLease(l, routing)) !== hex(routeLease(asObjects(l), routing))) throw new Error('the two ways differ');
  buffer.release(l.id);
}
drainOnce('columns');
drainOnce('objects'); // warm-up
const per: Record<'columns' | 'objects' | 'lease', number[]> = { columns: [], objects: [], lease: [] };
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (['columns', 'objects', 'lease'] as const) : (['lease', 'objects', 'columns'] as const);
  for (const way of order) {
    const d = drainOnce(way);
    if (d.readings !== N) throw new Error(`${way}: drained ${d.readings} of ${N}`);
    per[way].push(d.us / d.readings);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mc = median(per.columns);
const mo = median(per.objects);
console.log(`drain encode, ${N} readings (${SYNTH.devices} devices), leases of ${BATCH}, ${ROUNDS} rounds, CPU µs per reading (lease + JSON v1):`);
console.log(`  columns (JSON v1 from the decoded units): ${per.columns.map((x) => x.toFixed(2)).join(' ')}  median ${mc.toFixed(2)}`);
console.log(`  objects (Reading objects, then JSON v1):  ${per.objects.map((x) => x.toFixed(2)).join(' ')}  median ${mo.toFixed(2)}`);
const ml = median(per.lease);
console.log(`  lease only (read, open, decode to columns): ${per.lease.map((x) => x.toFixed(2)).join(' ')}  median ${ml.toFixed(2)}`);
console.log(
  `  ratio columns/objects: ${(mc / mo).toFixed(3)}; without the lease's own cost: ${((mc - ml) / (mo - ml)).toFixed(3)}  (messages routed: ${sink})`,
);
await buffer.close();
rmSync(root, { recursive: true, force: true });
