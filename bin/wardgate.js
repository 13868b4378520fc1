#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=64 --heap-growing-percent=200 --no-memory-reducer
// Entry point of the `wardgate` command: runs the compiled CLI (npm run build).
// The V8 flags above size the JavaScript heap for a small box (a Raspberry Pi on the ward): the
// gateway's live data is a few MiB (at most four Kafka batches), so a small young generation and
// old space with a steeper growing factor keep resident memory near 130-150 MiB while a million-
// reading backlog drains (V8's defaults: 210-254 MiB). The price is CPU in a drain: 19.8 µs per
// reading against 11.3 µs with V8's defaults (bench/drain.ts --rounds 2, 2026-12-08; a bare
// producer 17.3 against 10.1 µs), the young generation collected far more often.
// --no-memory-reducer: V8's memory reducer took a gateway at a ward's low allocation rate for idle
// and ran extra full collections, each throwing away the optimised code of dozens of functions
// (V8 dropped that code as "weak objects") for V8 to compile again (README, Performance: 0.83x the
// CPU of `wardgate simulate`, 0.93x in bench/ward.ts, peak RSS no higher; the heap is bounded
// by the flags above, not by the reducer).
// bench/forwarder.ts runs its gateways with these same flags; kafka.batch.maxBytes is bounded
// by this heap (src/forwarder/clients.ts). Run `node bin/wardgate.js` to use V8's defaults.
import { main } from '../dist/src/cli/main.js';

main(process.argv).then(
  (code) => {
    process.exitCode = code;
    // Everything was stopped. Should a handle still hold the event loop, do not linger as a
    // half-alive process (systemd would see it active): exit anyway (unref: no wait otherwise).
    setTimeout(() => {
      process.stderr.write('wardgate: still running after everything was stopped (an open handle); exiting\n');
      process.exit(code);
    }, 5000).unref();
  },
  (err) => {
    process.stderr.write(`wardgate: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
