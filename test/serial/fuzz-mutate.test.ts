/**
 * Mutation fuzz of every serial framing layer (issue 12: "1M random and mutated inputs per
 * framing layer"): the full 1M mutated inputs per layer here, in CI (about 21 s for the seven layers
 * on the dev machine); bench/fuzz-serial.ts runs the same with other seeds and sizes. Each input is a clean frame or a frame
 * damaged in one known way (a byte changed, lost or added, a delimiter lost, noise, an abort,
 * a split read); test/serial/helpers/mutate.ts says, from the damage it injected, which frames
 * and which rejections (reason by reason, in order) the layer must give for that input.
 */
import { describe, expect, it } from 'vitest';
import { LAYERS, mutationFuzz } from './helpers/mutate.js';

const CI_INPUTS = 1_000_000;

/** The kinds of damage each layer must have seen (so a fuzzer that stopped injecting one fails). */
const KINDS: Record<(typeof LAYERS)[number], string[]> = {
  intellivue: ['clean', 'byte_changed', 'abort', 'noise', 'eof_lost', 'byte_lost'],
  'ge-s5': ['clean', 'byte_changed', 'bad_escape', 'noise', 'byte_lost', 'shared_flag'],
  medibus: ['clean', 'byte_changed', 'interleaved', 'cancelled', 'cr_lost', 'noise'],
  masimo: ['clean', 'digit_changed', 'letter_in_value', 'letter_in_flags', 'bad_time', 'field_lost', 'too_long', 'any_byte_changed'],
  'nonin-2': ['packet', 'byte_changed', 'byte_lost', 'noise'],
  'nonin-8': ['clean', 'value_changed', 'sync_broken', 'byte_lost', 'noise'],
  line: ['clean', 'byte_changed', 'delimiter_changed', 'too_long'],
};

describe(`fuzz: ${CI_INPUTS / 1000}k mutated inputs per framing layer, each outcome as injected`, () => {
  it.each(LAYERS)(
    '%s',
    (layer) => {
      const rep = mutationFuzz(layer, CI_INPUTS, 12);
      expect(rep.firstMismatch).toBeUndefined();
      expect(rep.exceptions).toBe(0);
      expect(rep.mismatches).toBe(0);
      expect(rep.inputs).toBe(CI_INPUTS);
      expect(rep.observedRejects).toBe(rep.expectedRejects);
      expect(rep.observedFrames).toBe(rep.expectedFrames);
      for (const k of KINDS[layer]) expect(rep.kinds[k] ?? 0, k).toBeGreaterThan(CI_INPUTS / 50);
      // Most inputs are damaged: the rejections are many, and all were injected (checked above, item by item).
      expect(rep.expectedRejects).toBeGreaterThan(CI_INPUTS / 4);
    },
    180_000,
  ); // CPU-bound by design (1M inputs): up to 7 s a layer alone, far more on a loaded machine
});
