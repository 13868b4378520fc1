// V8 keeps a closure's optimised code only while one of its closures is alive (README,
// Performance: "V8's compiler after the warm-up"). A method makes a closure per call, 20,000
// calls make it hot and optimised; then a full GC, with (`keep`) or without one closure still
// referenced; then one new closure is made and called once:
//   node --expose-gc bench/closure-code.mjs        -> after the GC: interpreted (code dropped)
//   node --expose-gc bench/closure-code.mjs keep   -> after the GC: optimised (code kept)
// (Node 20; V8's %GetOptimizationStatus through --allow-natives-syntax set at run time.)
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--allow-natives-syntax');
const status = new Function('f', 'return %GetOptimizationStatus(f)');
const optimised = (f) => (status(f) & 16) !== 0; // V8's OptimizationStatus::kOptimized

class Queue {
  n = 0;
  settled(x) {
    this.n += x;
  }
  closure(x) {
    return () => this.settled(x);
  }
}
const q = new Queue();
let f = null;
for (let i = 0; i < 20_000; i++) {
  f = q.closure(i);
  f();
}
for (let i = 0; i < 1000 && !optimised(f); i++) {
  await new Promise((r) => setTimeout(r, 1)); // the optimising compile runs in the background
  f = q.closure(i);
  f();
}
const before = optimised(f);
const kept = process.argv[2] === 'keep' ? f : null;
f = null;
globalThis.gc();
const g = q.closure(0);
g();
process.stdout.write(
  `before the GC: ${before ? 'optimised' : 'interpreted'}; after the GC${kept ? ', one closure kept' : ''}: ${optimised(g) ? 'optimised' : 'interpreted'}\n`,
);
