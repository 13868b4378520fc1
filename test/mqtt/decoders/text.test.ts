import { describe, expect, it } from 'vitest';
import { textDecoder } from '../../../src/devices/mqtt/decoders/text.js';

const NOW = Date.UTC(2025, 5, 1);

describe('text decoder', () => {
  it.each([
    ['97', 97],
    ['36.8\n', 36.8],
    ['  -4.5e1 ', -45],
    ['+0.5', 0.5],
    ['.5', 0.5],
    ['7.', 7],
    ['\t120\r\n', 120],
  ])('decodes %j', (payload, value) => {
    expect(textDecoder(Buffer.from(payload), NOW)).toEqual({ ok: true, readings: [{ value }] });
  });

  it.each([
    ['', 'empty'],
    ['   \n', 'empty'],
    ['97%', 'bad_text'],
    ['97 98', 'bad_text'],
    ['NaN', 'bad_text'],
    ['Infinity', 'bad_text'],
    ['0x10', 'bad_text'],
    ['1_000', 'bad_text'],
    ['9'.repeat(65), 'bad_text'],
    ['1e400', 'not_finite'],
    ['٩٧', 'bad_text'], // Arabic-Indic digits
    ['{"v":97}', 'bad_text'],
  ])('refuses %j', (payload, reason) => {
    expect(textDecoder(Buffer.from(payload), NOW)).toEqual({ ok: false, reason });
  });
});
