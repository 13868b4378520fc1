/**
 * A process whose wall clock the test moves: libfaketime (installed by scripts/install-deps.sh)
 * preloaded into `wardgate run`, reading its offset from a file on every call (the monotonic clock
 * left real), and the gateway given an embedded MQTT broker with one user (`mon` / `pw-mon`,
 * publish anywhere) and one rule (`hr/{bed}/{device}`, a heart rate as text), so the test can
 * offer readings it numbers.
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { hashPassword } from '../../src/devices/mqtt/auth.js';
import { type CliChild, spawnCli, tempDir, waitFor } from './gateway.js';
import { freePort } from './kafka.js';

export const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1'].find((p) =>
  existsSync(p),
);

/** libfaketime's path; throws (the test fails, never skips) when it is not installed. */
export function libfaketime(): string {
  if (!LIBFAKETIME) throw new Error('libfaketime is missing: apt-get install faketime (scripts/install-deps.sh)');
  return LIBFAKETIME;
}

/** The environment of a child whose wall clock is moved by the offset in `offsetFile` ('+2h', '-1h', '+0'). */
export function faketimeEnv(offsetFile: string): NodeJS.ProcessEnv {
  return { LD_PRELOAD: libfaketime(), FAKETIME_TIMESTAMP_FILE: offsetFile, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1' };
}

export interface ClockedGateway {
  c: CliChild;
  data: string;
  keyFile: string;
  /** The MQTT broker's URL (user mon, password pw-mon). */
  url: string;
  /** Write an offset here to move the process's wall clock. */
  offsetFile: string;
}

/** Starts `wardgate run` under libfaketime at `offset`, with `kafka` as its kafka section (YAML lines, indented two spaces). */
export async function startClockedGateway(offset: string, kafka: string): Promise<ClockedGateway> {
  const dir = tempDir();
  const data = join(dir, 'data');
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const usersFile = join(dir, 'users.yaml');
  writeFileSync(usersFile, `users:\n  - { username: mon, passwordHash: "${await hashPassword('pw-mon')}", publish: ["#"] }\n`);
  chmodSync(usersFile, 0o600);
  const port = await freePort();
  const cfg = join(dir, 'wardgate.yaml');
  writeFileSync(
    cfg,
    `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n${kafka}log:\n  level: info\n` +
      `devices:\n  mqtt:\n    enabled: true\n    embedded:\n      tcp: { host: 127.0.0.1, port: ${port} }\n      auth:\n        usersFile: ${usersFile}\n` +
      '    rules:\n      - { name: hr, topic: "hr/{bed}/{device}", metric: heart_rate, unit: "/min", decoder: { type: text } }\n',
  );
  const offsetFile = join(dir, 'faketime');
  writeFileSync(offsetFile, `${offset}\n`);
  const c = spawnCli(['run', '--config', cfg], faketimeEnv(offsetFile));
  await waitFor(() => c.stderr().includes('"msg":"wardgate started"') || c.proc.exitCode !== null, 60_000, 'the start');
  return { c, data, keyFile, url: `mqtt://127.0.0.1:${port}`, offsetFile };
}
