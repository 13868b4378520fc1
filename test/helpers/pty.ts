/** Runs the real `wardgate` CLI on a pseudo-terminal (util-linux `script`), as a person at a terminal would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './gateway.js';

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

export interface PtyRun {
  /** Everything the terminal received so far (stdout and stderr of the CLI, as the pty mixes them). */
  out: () => string;
  exited: Promise<number | null>;
  kill: (sig?: NodeJS.Signals) => void;
}

/** The CLI with `args` on a pty of `columns` x 24 (set with stty before the CLI starts). */
export function cliOnPty(args: readonly string[], columns = 80): PtyRun {
  const cmd = [process.execPath, '--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts'), ...args].map(quote).join(' ');
  const p = spawn('script', ['-q', '-e', '-c', `stty cols ${columns} rows 24; exec ${cmd}`, '/dev/null'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  p.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
  return { out: () => out, exited, kill: (sig = 'SIGTERM') => p.kill(sig) };
}

/** The lines the live view drew (each begins with the clear-line sequence), without terminal control. */
export function viewLines(out: string): string[] {
  return out
    .replace(/\x1b\[\d+A/g, '')
    .split(/\r?\n/)
    .map((l) => l.replace(/\r/g, ''))
    .filter((l) => l.startsWith('\x1b[2K'))
    .map((l) => l.slice(4));
}
