/**
 * Kafka batch compression codecs (`kafka.compression`): none, gzip, lz4, zstd.
 *
 *  - gzip: node:zlib, built into both clients.
 *  - lz4:  @platformatic/wasm-utils (WebAssembly, shipped inside the npm package: no native
 *          build, no download, same code on x64 and a Raspberry Pi's arm64). It writes the LZ4
 *          frame format Kafka expects; it is what @platformatic/kafka itself uses for LZ4.
 *  - zstd: node:zlib where Node has it (22.15+), else @bokuweb/zstd-wasm (WebAssembly build of
 *          the reference zstd library, level 3). @platformatic/kafka only knows node:zlib's zstd.
 *
 * kafkajs ships gzip only; ./kafkajs-codecs.ts adds LZ4/ZSTD to its CompressionCodecs.
 * bench/compression.ts measures ratio and CPU per MB of each on wardgate's own messages.
 */

import { createRequire } from 'node:module';
import zlib from 'node:zlib';

const COMPRESSIONS = ['none', 'gzip', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSIONS)[number];

export interface Codec {
  compress(data: Buffer): Buffer;
  decompress(data: Buffer): Buffer;
}

const ZSTD_LEVEL = 3;
const require = createRequire(import.meta.url);

type ZlibZstd = { zstdCompressSync?: (b: Buffer, o?: object) => Buffer; zstdDecompressSync?: (b: Buffer) => Buffer; constants: Record<string, number> };

/** node:zlib's zstd, when this Node has it (22.15+, 23.8+). */
export function nodeZstd(): Codec | null {
  const z = zlib as unknown as ZlibZstd;
  const compressSync = z.zstdCompressSync;
  const decompressSync = z.zstdDecompressSync;
  const levelParam = z.constants.ZSTD_c_compressionLevel;
  if (!compressSync || !decompressSync || levelParam === undefined) return null;
  return { compress: (b) => compressSync(b, { params: { [levelParam]: ZSTD_LEVEL } }), decompress: (b) => decompressSync(b) };
}

let zstdWasm: Promise<Codec> | null = null;

function loadZstdWasm(): Promise<Codec> {
  zstdWasm ??= (async () => {
    const w = require('@bokuweb/zstd-wasm') as {
      init: () => Promise<void>;
      compress: (b: Buffer, level: number) => Uint8Array;
      decompress: (b: Buffer) => Uint8Array;
    };
    await w.init();
    const view = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    return { compress: (b: Buffer) => view(w.compress(b, ZSTD_LEVEL)), decompress: (b: Buffer) => view(w.decompress(b)) };
  })();
  return zstdWasm;
}

/** The codec for a `kafka.compression` value (null for none). */
export async function loadCodec(name: Exclude<CompressionName, 'none'>): Promise<Codec> {
  switch (name) {
    case 'gzip':
      return { compress: (b) => zlib.gzipSync(b), decompress: (b) => zlib.gunzipSync(b) };
    case 'lz4': {
      const w = await import('@platformatic/wasm-utils');
      return { compress: (b) => Buffer.from(w.lz4Compress(b)), decompress: (b) => Buffer.from(w.lz4Decompress(b)) };
    }
    case 'zstd':
      return nodeZstd() ?? (await loadZstdWasm());
  }
}
