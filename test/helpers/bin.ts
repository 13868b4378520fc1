/**
 * The shipped command as systemd runs it: `bin/wardgate.js` (its V8 flags) on the compiled
 * sources. `ensureBuilt()` runs `npm run build` when dist/ is older than a source file.
 */
import { execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CliChild, REPO } from './gateway.js';

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function builtIsCurrent(): boolean {
  let built = 0;
  try {
    built = statSync(join(REPO, 'dist/src/cli/main.js')).mtimeMs;
  } catch {
    /* not built */
  }
  return built >= newest(join(REPO, 'src'));
}

export function ensureBuilt(): void {
  if (builtIsCurrent()) return;
  try {
    execFileSync('npm', ['run', 'build'], { cwd: REPO, stdio: 'ignore' });
  } catch {
    // tsc exits non-zero for a type error anywhere but still emits; the tests say what is wrong.
  }
}

/** ensureBuilt() without blocking the event loop (a test worker must keep answering its runner meanwhile). */
export async function ensureBuiltAsync(): Promise<void> {
  if (builtIsCurrent()) return;
  // tsc exits non-zero for a type error anywhere but still emits; the tests say what is wrong.
  await new Promise<void>((resolve) => execFile('npm', ['run', 'build'], { cwd: REPO }, () => resolve()));
}

/** Spawns `bin/wardgate.js` (shebang flags included) with the given arguments. */
export function spawnBin(args: string[], env: NodeJS.ProcessEnv = {}, opts: Pick<SpawnOptions, 'uid' | 'gid'> = {}): CliChild {
  const proc = spawn(join(REPO, 'bin/wardgate.js'), args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((r) => {
    proc.on('exit', (code) => r(code));
    // Not started at all (e.g. as another user who cannot enter the checkout): no 'exit' follows.
    proc.on('error', (e) => {
      err += `could not start ${join(REPO, 'bin/wardgate.js')}: ${e.message}\n`;
      r(null);
    });
  });
  return { proc, stdout: () => out, stderr: () => err, exited };
}
