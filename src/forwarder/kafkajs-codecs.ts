/**
 * LZ4 and ZSTD for kafkajs, which ships gzip only: wardgate's codecs (./compression.ts) put into
 * kafkajs's process-wide CompressionCodecs table. Only the kafkajs client loads this file.
 */
import kafkajs from 'kafkajs';
import { type CompressionName, loadCodec } from './compression.js';

// kafkajs is CommonJS and CompressionCodecs is not visible as a named ESM export.
const { CompressionCodecs, CompressionTypes } = kafkajs;

const KAFKAJS_TYPES = { lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD } as const;

/**
 * Makes kafkajs able to produce (and consume) `name`. kafkajs's codec table is global to the
 * process; registering twice is harmless. gzip and none need nothing.
 */
export async function registerKafkajsCodec(name: CompressionName): Promise<void> {
  if (name === 'none' || name === 'gzip') return;
  const codec = await loadCodec(name);
  const kafkajsCodec = {
    compress: async (encoder: { buffer: Buffer }) => codec.compress(encoder.buffer),
    decompress: async (buffer: Buffer) => codec.decompress(buffer),
  };
  (CompressionCodecs as Record<number, () => unknown>)[KAFKAJS_TYPES[name]] = () => kafkajsCodec;
}
