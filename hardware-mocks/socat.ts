/**
 * socat linking two pseudo-terminals (`link=` paths), the one way every simulated serial line and
 * BLE controller is made. socat does not die with the process that started it: a test that hangs
 * and is killed, or a `wardgate simulate` ended with SIGKILL, used to leave its pairs running. So
 * it is started through util-linux's `setpriv --pdeathsig TERM`, which execs socat (same pid, so
 * kill() and the exit code are socat's) with the kernel told to send it SIGTERM (it then removes its links) when the thread that
 * started it ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export function spawnPtyPair(a: string, b: string): ChildProcess {
  return spawn('setpriv', ['--pdeathsig', 'TERM', 'socat', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
}
