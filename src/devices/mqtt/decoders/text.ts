/** Plain numeric text: "97", " 36.8\n", "-4.5e1". The rule gives metric and unit. */
import { toNumber } from './numbers.js';
import { type Decoder, fail } from './types.js';

const MAX_TEXT = 64;

export const textDecoder: Decoder = (payload) => {
  if (payload.length === 0) return fail('empty');
  if (payload.length > MAX_TEXT) return fail('bad_text');
  // latin1 keeps one char per byte; any non-ASCII byte then fails the numeric grammar.
  const text = payload.toString('latin1').trim();
  if (text.length === 0) return fail('empty');
  const value = toNumber(text);
  if (value === 'not_finite') return fail('not_finite');
  if (value === 'not_a_number') return fail('bad_text');
  return { ok: true, readings: [{ value }] };
};
