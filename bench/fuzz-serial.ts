/**
 * Serial fuzz at full size: 1M mutated inputs per framing layer (IntelliVue, S/5, MEDIBUS, Masimo,
 * Nonin #2 and #8, wg1 lines), each compared with what the fuzzer injected (frames, rejection
 * reasons in order, payloads); see test/serial/helpers/mutate.ts. The CI test
 * (test/serial/fuzz-mutate.test.ts) runs the same fuzzer at 1M per layer, seed 12. Exits 1 on any
 * mismatch or exception.
 *
 *   node --import tsx bench/fuzz-serial.ts [--inputs 1000000] [--seed 1]
 */
import { LAYERS, mutationFuzz } from '../test/serial/helpers/mutate.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const inputs = Number(arg('inputs', '1000000'));
const seed = Number(arg('seed', '1'));

console.log(`mutation fuzz, ${inputs} inputs per layer, seed ${seed}`);
console.log('layer        inputs      MB      s   frames(exp=obs)  rejects(exp=obs)  mismatches  exceptions  rejects by reason');
let bad = 0;
for (const layer of LAYERS) {
  const r = mutationFuzz(layer, inputs, seed);
  bad += r.mismatches + r.exceptions + (r.observedRejects !== r.expectedRejects ? 1 : 0) + (r.observedFrames !== r.expectedFrames ? 1 : 0);
  const reasons = Object.entries(r.rejectsByReason)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(
    `${layer.padEnd(10)} ${String(r.inputs).padStart(8)} ${(r.bytes / 1e6).toFixed(1).padStart(7)} ${(r.ms / 1000).toFixed(1).padStart(6)}   ` +
      `${`${r.expectedFrames}=${r.observedFrames}`.padStart(15)}  ${`${r.expectedRejects}=${r.observedRejects}`.padStart(16)}  ` +
      `${String(r.mismatches).padStart(10)}  ${String(r.exceptions).padStart(10)}  ${reasons}`,
  );
  if (r.firstMismatch) console.log(`  first mismatch: ${r.firstMismatch}`);
}
console.log(bad === 0 ? 'every outcome as injected, no exception' : `FAILED: ${bad}`);
process.exitCode = bad === 0 ? 0 : 1;
