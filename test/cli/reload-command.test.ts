/**
 * `wardgate reload` (the unit's ExecReload) against the real `wardgate run` (Kafka down): it
 * returns once the gateway has answered, with the answer as its exit status: a changed log level
 * is applied (exit 0, and the gateway's audit record of the change is already in the file when
 * the command returns), a file that does not validate is refused (exit 1, the reason; the gateway
 * runs on), no running gateway is exit 2.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statusFileForReload } from '../../src/cli/reload-command.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { readStatusFile } from '../../src/status-file.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const c = spawnCli(args);
  const code = await c.exited;
  return { code, out: c.stdout(), err: c.stderr() };
}

describe('wardgate reload', () => {
  it('waits for the answer: applied (exit 0, already audited when it returns), refused (exit 1, why), nothing running (exit 2)', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    // A status file of its own (gateway.statusFile): the command finds it through the configuration.
    const statusFile = join(dir, 'run', 'status.json');
    mkdirSync(join(dir, 'run'));
    const good =
      `gateway:\n  dataDir: ${data}\n  statusFile: ${statusFile}\n` +
      `buffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: warn\n`;
    writeFileSync(cfg, good);

    const none = await cli(['reload', '--config', cfg]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no running gateway/);

    const c = spawnCli(['run', '--config', cfg]);
    cleanup.push(() => c.proc.exitCode === null && c.proc.kill('SIGKILL'));
    await waitFor(() => existsSync(join(data, 'audit.log')) || c.proc.exitCode !== null, 60_000, 'the start');
    await waitFor(() => readStatusFile(statusFile)?.pid === c.proc.pid, 30_000, 'running in its status file');
    const audited = (): string[] =>
      readFileSync(join(data, 'audit.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).event as string);

    writeFileSync(cfg, good.replace('level: warn', 'level: info'));
    const applied = await cli(['reload', '--config', cfg, '--pid', String(c.proc.pid)]);
    // Read at once: the gateway wrote its record before it answered.
    expect(audited()).toContain('config_changed');
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toContain('applied: log.level');
    // wardgate status reads the same status file through the configuration (it looked only in the data folder).
    const status = await cli(['status', '--config', cfg, '--json']);
    const shown = JSON.parse(status.out) as { running: boolean; gatewayId: string | null };
    expect(shown.running).toBe(true);
    expect(shown.gatewayId).toBe(readStatusFile(statusFile)!.gatewayId);

    writeFileSync(cfg, good.replace('level: warn', 'level: loud'));
    const refused = await cli(['reload', '--config', cfg]);
    expect(audited()).toContain('config_reload_refused');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused, the running configuration stays: .*log\.level/s);
    expect(c.proc.exitCode).toBeNull();
    // The refused file still names the status file the command waits on.
    expect(statusFileForReload(cfg, {})).toBe(statusFile);

    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  }, 90_000);
});
