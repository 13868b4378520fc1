/**
 * socat linking two pseudo-terminals (`link=` paths), the one way every simulated serial line and
 * BLE controller is made. socat does not die with the process that started it: a test that hangs
 * and is killed, or a `wardgate simulate` ended with SIGKILL, used to leave its pairs running. So
 * it is started through util-linux's `setpriv --pdeathsig TERM`, which execs socat (same pid, so
 * kill() and the exit code are socat's) with the kernel told to send it SIGTERM (it then removes
 * its links) when the thread that started it ends. Where there is no setpriv (before Debian 12 it
 * was a package of its own), socat is started directly, as before.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

let setpriv: boolean | undefined;

function hasSetpriv(): boolean {
  setpriv ??= (process.env.PATH ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, 'setpriv')));
  return setpriv;
}

export function spawnPtyPair(a: string, b: string): ChildProcess {
  const socat = ['socat', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`];
  const [cmd, ...args] = hasSetpriv() ? ['setpriv', '--pdeathsig', 'TERM', ...socat] : socat;
  return spawn(cmd!, args, { stdio: 'ignore' });
}
