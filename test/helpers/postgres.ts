/**
 * A throwaway PostgreSQL cluster for a test file, started and stopped by the project's own
 * scripts/postgres-local.sh (Debian's initdb + pg_ctl on a free loopback port). If it cannot
 * start, this throws with the script's stderr: tests that need it fail, never skip.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './kafka.js';

export const POSTGRES_SCRIPT = fileURLToPath(new URL('../../scripts/postgres-local.sh', import.meta.url));

export interface LocalPostgres {
  url: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<LocalPostgres> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wardgate-pg-'));
  const env = { ...process.env, PG_DIR: dir };
  const { stdout } = await run('bash', [POSTGRES_SCRIPT, 'start'], { env, timeoutMs: 90_000 });
  const url = stdout.toString('utf8').trimEnd().split('\n').pop()?.trim() ?? '';
  if (!/^postgres:\/\/wardgate:[^@]+@127\.0\.0\.1:\d+\/wardgate$/.test(url)) {
    throw new Error(`postgres-local.sh start did not print a URL on its last line (got ${JSON.stringify(url)})`);
  }
  // Safety net if the test process ends without stop(): never leave a server behind.
  const onExit = () => spawnSync('bash', [POSTGRES_SCRIPT, 'stop'], { env, stdio: 'ignore', timeout: 30_000 });
  process.once('exit', onExit);
  return {
    url,
    dir,
    stop: async () => {
      process.removeListener('exit', onExit);
      await run('bash', [POSTGRES_SCRIPT, 'stop'], { env, timeoutMs: 90_000 });
    },
  };
}
