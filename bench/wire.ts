/**
 * Bytes on the wire per reading, by format and codec: `node --import tsx bench/wire.ts [--readings N] [--batch N,N]`
 *
 * For a simulated 30-bed ward (test/forwarder-client/ward-messages.ts) routed as wardgate sends it
 * (routeLease, key = device) with kafka.format json-v1 and avro-v1, prints per reading:
 *  - value: the message value alone;
 *  - record: key + value + header names and values (what a Kafka record batch compresses; the
 *    few bytes of varint framing per record and the ~61-byte batch header are left out);
 *  - the record bytes compressed per batch of --batch readings with none, gzip, lz4, zstd
 *    (src/forwarder/compression.ts), total compressed bytes / readings.
 * Also the encoding CPU per reading (process.cpuUsage, least of 3 passes), as a ratio to JSON v1
 * measured in the same run.
 */
import type { Lease } from '../src/buffer/types.js';
import type { OutMessage } from '../src/forwarder/client.js';
import { loadCodec } from '../src/forwarder/compression.js';
import { type RoutingOptions, routeLease } from '../src/forwarder/routing.js';
import type { Reading } from '../src/reading.js';
import { recordBytes, wardReadings } from '../test/forwarder-client/ward-messages.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const N = Number(arg('readings', '100000'));
const BATCHES = arg('batch', '100,2000').split(',').map(Number);
const FORMATS = ['json-v1', 'avro-v1'] as const;
const topics = { alarm: 'a', vital: 'v', status: 's', waveform: 'w' };

function messages(readings: readonly Reading[], format: (typeof FORMATS)[number]): OutMessage[] {
  const o: RoutingOptions = { topics, key: 'device', format };
  const out: OutMessage[] = [];
  const lease: Lease = { id: 1, priorityClass: 'vital', bytes: 0, partial: false, readings };
  for (const b of routeLease(lease, o)) out.push(...b.messages);
  return out;
}

function cpuMsPerReading(readings: readonly Reading[], format: (typeof FORMATS)[number]): number {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < readings.length; i += 2000) messages(readings.slice(i, i + 2000), format);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000 / readings.length);
  }
  return best;
}

const readings = wardReadings(N);
const codecs = [
  { name: 'gzip', codec: await loadCodec('gzip') },
  { name: 'lz4', codec: await loadCodec('lz4') },
  { name: 'zstd', codec: await loadCodec('zstd') },
];
console.log(`${N} readings of a simulated 30-bed ward; bytes per reading`);
const cpu: Record<string, number> = {};
for (const f of FORMATS) cpu[f] = cpuMsPerReading(readings, f);
for (const f of FORMATS) {
  const msgs = messages(readings, f);
  const value = msgs.reduce((s, m) => s + Buffer.byteLength(m.value as Buffer | string), 0) / N;
  const record = recordBytes(msgs).length / N;
  const cells = [`${f.padEnd(8)} value ${value.toFixed(1)}  record ${record.toFixed(1)}`];
  for (const batch of BATCHES) {
    const parts: string[] = [];
    for (const { name, codec } of codecs) {
      let total = 0;
      for (let i = 0; i < msgs.length; i += batch) total += codec.compress(recordBytes(msgs.slice(i, i + batch))).length;
      parts.push(`${name} ${(total / N).toFixed(1)}`);
    }
    cells.push(`batch ${batch}: ${parts.join(', ')}`);
  }
  console.log(cells.join('\n  '));
  console.log(`  encode CPU ${(cpu[f]! * 1000).toFixed(2)} µs/reading (${(cpu[f]! / cpu['json-v1']!).toFixed(2)}x json-v1)`);
}
