/** Command-line options every simulated monitor takes: --port, --interval, --seed, --truth, --faults. */
import { parseArgs } from 'node:util';

export interface MonitorArgs {
  port: string;
  intervalMs?: number;
  seed: number;
  truth?: string;
  faults: string[];
}

export function monitorArgs(argv: string[]): MonitorArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      interval: { type: 'string' },
      seed: { type: 'string', default: '1' },
      truth: { type: 'string' },
      faults: { type: 'string', default: '' },
    },
  });
  if (!values.port) throw new Error('--port <path> is required (the device end of a pty pair, e.g. /dev/pts/5)');
  const out: MonitorArgs = { port: values.port, seed: Number(values.seed), faults: values.faults ? values.faults.split(',') : [] };
  if (values.interval) out.intervalMs = Number(values.interval);
  if (values.truth) out.truth = values.truth;
  return out;
}
