/**
 * `wardgate status` on a gateway whose status file went stale: stillRunning tells a gateway that
 * runs on without writing its status (a read-only card: test/cli/read-only-card.test.ts runs the
 * real case) from one that died, against real processes: one whose command line names wardgate,
 * one that does not, one gone, and a status written before the process started (its pid reused).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { stillRunning } from '../../src/cli/status.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that idles until killed, with `name` among its arguments; resolves once it runs. */
async function idle(name: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")', name], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(c);
  await new Promise((r) => c.stdout!.once('data', r));
  return c;
}

describe('stillRunning', () => {
  it('is true for a live wardgate process that started before the status was written', async () => {
    const c = await idle('/usr/lib/wardgate/bin/wardgate.js');
    expect(stillRunning(c.pid!, Date.now())).toBe(true);
  });

  it('is false for a live process that started after the status was written (a reused pid)', async () => {
    const written = Date.now() - 10_000;
    const c = await idle('/usr/lib/wardgate/bin/wardgate.js');
    expect(stillRunning(c.pid!, written)).toBe(false);
  });

  it('is false for a live process that is not wardgate', async () => {
    const c = await idle('/usr/bin/some-other-service');
    expect(stillRunning(c.pid!, Date.now())).toBe(false);
  });

  it('is false once the process is gone', async () => {
    const c = await idle('/usr/lib/wardgate/bin/wardgate.js');
    const pid = c.pid!;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
    expect(stillRunning(pid, Date.now())).toBe(false);
  });
});
