// Runs the real `wardgate` CLI from the TypeScript sources (tests spawn it with `node --import tsx`).
import { main } from '../../src/cli/main.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`wardgate: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
