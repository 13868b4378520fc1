/**
 * A simulated serial line's socat goes away with the process that made it, even one killed with
 * SIGKILL (hardware-mocks/socat.ts): a hung test, or a `wardgate simulate --monitors` ended that
 * way, used to leave its socat pairs running.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../helpers/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'wardgate-pty-holder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Processes whose command line holds `text` (pgrep exits 1 when there is none). */
function processesWith(text: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

it("a PtyPair's socat ends, and its link paths go, when the process that plugged it is killed with SIGKILL", async () => {
  const holder = spawn(process.execPath, ['--import', 'tsx', 'test/serial/fixtures/pty-holder.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    holder.stdout.on('data', (d: Buffer) => d.toString().includes('plugged') && resolve());
    holder.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  const links = [join(dir, 'line.device'), join(dir, 'line.host')];
  expect(links.filter((l) => existsSync(l))).toEqual(links);
  expect(processesWith(`link=${links[0]}`)).toHaveLength(1);
  holder.kill('SIGKILL');
  await new Promise((r) => holder.once('exit', r));
  await waitFor(() => processesWith(`link=${links[0]}`).length === 0 && !links.some((l) => existsSync(l)), 5_000, 'socat to end and remove its links');
});
