/**
 * Compression benchmark: `node --import tsx bench/compression.ts [--readings N] [--batch N,N] [--repeats 5] [--candidates DIR]`
 *
 * For realistic wardgate JSON v1 reading batches (a simulated 30-bed ward, real headers and
 * keys; see test/forwarder-client/ward-messages.ts) prints, per codec and batch size:
 *  - ratio (uncompressed / compressed bytes),
 *  - CPU ms per uncompressed MB to compress and to decompress (process.cpuUsage, user+system,
 *    all threads, after a warm-up; the least of --repeats passes), and MB/s of one core.
 *
 * Codecs measured: those wardgate ships (gzip: node:zlib, what kafkajs and @platformatic/kafka
 * use; lz4: @platformatic/wasm-utils as in src/forwarder/compression.ts; zstd: see
 * src/forwarder/compression.ts) plus snappy from the same WASM package for reference.
 * `--candidates DIR` also measures packages installed in DIR/node_modules that wardgate does
 * not depend on (lz4-napi, zstd-napi, @bokuweb/zstd-wasm), to compare before choosing.
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { type Codec, loadCodec } from '../src/forwarder/compression.js';
import { recordBytes, toMessages, wardReadings } from '../test/forwarder-client/ward-messages.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
};
const N = Number(arg('readings', '200000'));
const BATCHES = arg('batch', '100,700').split(',').map(Number);
const CANDIDATES = process.argv.includes('--candidates') ? arg('candidates', '') : '';

interface Named {
  name: string;
  codec: Codec;
}

async function codecs(): Promise<Named[]> {
  const out: Named[] = [
    { name: 'gzip (node:zlib, level 6)', codec: await loadCodec('gzip') },
    { name: 'lz4 (@platformatic/wasm-utils)', codec: await loadCodec('lz4') },
    { name: 'zstd (wardgate codec, level 3)', codec: await loadCodec('zstd') },
  ];
  const wasm = await import('@platformatic/wasm-utils');
  out.push({
    name: 'snappy (@platformatic/wasm-utils)',
    codec: { compress: (b) => Buffer.from(wasm.snappyCompress(b)), decompress: (b) => Buffer.from(wasm.snappyDecompress(b)) },
  });
  const z = zlib as unknown as { zstdCompressSync?: (b: Buffer, o?: object) => Buffer; zstdDecompressSync?: (b: Buffer) => Buffer };
  if (z.zstdCompressSync && z.zstdDecompressSync) {
    const c = z.zstdCompressSync;
    const d = z.zstdDecompressSync;
    out.push({ name: 'zstd (node:zlib, level 3)', codec: { compress: (b) => c(b), decompress: (b) => d(b) } });
  }
  if (CANDIDATES) {
    const req = createRequire(join(CANDIDATES, 'node_modules', 'x.js'));
    const tryLoad = async (name: string, f: () => Promise<Named | Named[]>) => {
      try {
        const r = await f();
        out.push(...(Array.isArray(r) ? r : [r]));
      } catch (e) {
        console.log(`  (candidate ${name} not measured: ${(e as Error).message.split('\n')[0]})`);
      }
    };
    await tryLoad('lz4-napi', async () => {
      const l = req('lz4-napi') as { compressFrameSync: (b: Buffer) => Buffer; decompressFrameSync: (b: Buffer) => Buffer };
      return { name: 'lz4 (lz4-napi, native)', codec: { compress: (b) => l.compressFrameSync(b), decompress: (b) => l.decompressFrameSync(b) } };
    });
    await tryLoad('zstd-napi', async () => {
      const n = req('zstd-napi') as { compress: (b: Buffer, o?: object) => Buffer; decompress: (b: Buffer) => Buffer };
      return { name: 'zstd (zstd-napi, native, level 3)', codec: { compress: (b) => n.compress(b), decompress: (b) => n.decompress(b) } };
    });
    await tryLoad('@bokuweb/zstd-wasm', async () => {
      const w = req('@bokuweb/zstd-wasm') as {
        init: () => Promise<void>;
        compress: (b: Buffer, l: number) => Uint8Array;
        decompress: (b: Buffer) => Uint8Array;
      };
      await w.init();
      return [1, 3].map((level) => ({
        name: `zstd (@bokuweb/zstd-wasm, level ${level})`,
        codec: { compress: (b: Buffer) => Buffer.from(w.compress(b, level)), decompress: (b: Buffer) => Buffer.from(w.decompress(b)) },
      }));
    });
  }
  return out;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const REPEATS = Number(arg('repeats', '5'));
// The least CPU of the passes: other processes on the machine only ever add to a pass's cost.
const best = (xs: number[]): number => Math.min(...xs);

/** Ratio, and the least over REPEATS passes of CPU ms per uncompressed MB. */
function measure(codec: Codec, batches: Buffer[]): { ratio: number; cMsPerMB: number; dMsPerMB: number } {
  // warm-up (JIT, WASM tier-up) on a tenth of the batches
  for (const b of batches.slice(0, Math.max(1, batches.length / 10))) codec.decompress(codec.compress(b));
  const raw = batches.reduce((a, b) => a + b.length, 0);
  const mb = raw / 1024 ** 2;
  let packed = 0;
  const cs: number[] = [];
  const ds: number[] = [];
  for (let rep = 0; rep < REPEATS; rep++) {
    const compressed: Buffer[] = [];
    packed = 0;
    const c0 = cpuMs();
    for (const b of batches) {
      const c = codec.compress(b);
      compressed.push(c);
      packed += c.length;
    }
    const c1 = cpuMs();
    for (const [i, c] of compressed.entries()) {
      const d = codec.decompress(c);
      if (d.length !== batches[i]!.length) throw new Error('round trip changed the length');
    }
    const d1 = cpuMs();
    cs.push((c1 - c0) / mb);
    ds.push((d1 - c1) / mb);
  }
  return { ratio: raw / packed, cMsPerMB: best(cs), dMsPerMB: best(ds) };
}

async function main(): Promise<void> {
  const messages = toMessages(wardReadings(N));
  const all = await codecs();
  console.log(
    `compression of wardgate JSON v1 batches: ${N} readings, ${(recordBytes(messages).length / N).toFixed(0)} bytes/reading uncompressed ` +
      `(key+value+headers), node ${process.version}, ${process.arch}`,
  );
  for (const size of BATCHES) {
    const batches: Buffer[] = [];
    for (let i = 0; i + size <= messages.length; i += size) batches.push(recordBytes(messages.slice(i, i + size)));
    console.log(`\nbatch of ${size} readings (${(batches[0]!.length / 1024).toFixed(0)} KiB):`);
    console.log(`  ${'codec'.padEnd(38)} ${'ratio'.padStart(6)} ${'compress ms/MB'.padStart(15)} ${'MB/s'.padStart(7)} ${'decompress ms/MB'.padStart(17)}`);
    for (const { name, codec } of all) {
      const r = measure(codec, batches);
      console.log(
        `  ${name.padEnd(38)} ${r.ratio.toFixed(2).padStart(6)} ${r.cMsPerMB.toFixed(2).padStart(15)} ${(1000 / r.cMsPerMB).toFixed(0).padStart(7)} ` +
          `${r.dMsPerMB.toFixed(2).padStart(17)}`,
      );
    }
  }
}

await main();
