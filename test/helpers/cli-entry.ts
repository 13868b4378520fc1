// Runs the real `wardgate` CLI from the TypeScript sources (tests spawn it with `node --import tsx`).
import { main } from '../../src/cli/main.js';

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
    process.stderr.write(`wardgate: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
