/**
 * The shipped command as systemd runs it: `bin/wardgate.js` (its V8 flags) on the compiled
 * sources. `ensureBuilt()` runs `npm run build` when dist/ is older than a source file.
 */
import { execFile, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type CliChild, cliChild, REPO } from './gateway.js';

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
  return cliChild(proc);
}
