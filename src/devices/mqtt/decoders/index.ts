/** Builds the decoder a rule's config names. */
import type { DecoderConfig } from '../config.js';
import { binaryDecoder } from './binary.js';
import { jsonDecoder } from './json.js';
import { senmlDecoder } from './senml.js';
import { textDecoder } from './text.js';
import type { Decoder } from './types.js';

export function makeDecoder(cfg: DecoderConfig): Decoder {
  switch (cfg.type) {
    case 'json':
      return jsonDecoder(cfg);
    case 'senml':
      return senmlDecoder(cfg);
    case 'text':
      return textDecoder;
    case 'binary':
      return binaryDecoder(cfg);
  }
}

export type { Decoded, DecodeFailure, DecodeResult, Decoder } from './types.js';
export { DECODE_FAILURES } from './types.js';
