/**
 * scripts/postgres-local.sh, the throwaway PostgreSQL the consumer's tests run on: start prints
 * a URL that connects, a second start finds the same cluster, status says so, stop removes the
 * folder and status then says stopped (exit 3).
 */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { run, ToolError } from '../helpers/kafka.js';
import { POSTGRES_SCRIPT, startPostgres } from '../helpers/postgres.js';

describe('scripts/postgres-local.sh', () => {
  it('start, start again, status, stop', async () => {
    const pgl = await startPostgres();
    const env = { ...process.env, PG_DIR: pgl.dir };
    let stopped = false;
    try {
      const c = new pg.Client({ connectionString: pgl.url });
      await c.connect();
      const r = await c.query<{ db: string; usr: string; addr: string }>(
        'SELECT current_database() AS db, current_user AS usr, inet_server_addr()::text AS addr',
      );
      await c.end();
      expect(r.rows[0]).toEqual({ db: 'wardgate', usr: 'wardgate', addr: '127.0.0.1/32' });

      const again = (await run('bash', [POSTGRES_SCRIPT, 'start'], { env })).stdout.toString().trimEnd().split('\n').pop();
      expect(again).toBe(pgl.url);
      expect((await run('bash', [POSTGRES_SCRIPT, 'status'], { env })).stdout.toString().trim()).toBe(`running ${pgl.url}`);

      // A wrong password is refused over TCP (scram), not let in by trust.
      const wrong = new pg.Client({ connectionString: pgl.url.replace(/:[^:@/]+@/, ':wrong@') });
      await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
      await wrong.end().catch(() => undefined);

      await pgl.stop();
      stopped = true;
      expect(existsSync(pgl.dir)).toBe(false);
      const status = await run('bash', [POSTGRES_SCRIPT, 'status'], { env }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(status).toBeInstanceOf(ToolError);
      expect((status as ToolError).exitCode).toBe(3);
      expect((status as ToolError).stdout.trim()).toBe('stopped');
    } finally {
      if (!stopped) await pgl.stop();
    }
  });
});
