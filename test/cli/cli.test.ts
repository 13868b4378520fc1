/** The real CLI as a user runs it: exit codes, messages, files it writes. */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnCli, tempDir } from '../helpers/gateway.js';

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const c = spawnCli(args, env);
  const code = await c.exited;
  return { code, out: c.stdout(), err: c.stderr() };
}

describe('wardgate CLI', () => {
  it('--help lists the commands and exits 0; every command has its own --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['run', 'simulate', 'status', 'keygen', 'config']) expect(r.out).toContain(c);
    const s = await cli(['simulate', '--help']);
    expect(s.code).toBe(0);
    for (const o of ['--beds', '--duration', '--drain-timeout', '--brokers', '--data', '--config']) expect(s.out).toContain(o);
  });

  it('an unknown command or a bad option value is a usage error (exit 2) that says why', async () => {
    const u = await cli(['frobnicate']);
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/unknown command/);
    const b = await cli(['simulate', '--beds', 'many']);
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/--beds: expected a whole number/);
    const d = await cli(['simulate', '--duration', 'soon']);
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/--duration: not a duration/);
  });

  it('config check accepts the example and refuses a broken file naming each bad field', async () => {
    const ok = await cli(['config', 'check', 'wardgate.example.yaml']);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/ok/);
    const dir = tempDir();
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'kafka:\n  brokers: [nohost]\nbuffer:\n  cipher: des\n');
    const r = await cli(['config', 'check', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('kafka.brokers[0]: must be host:port');
    expect(r.err).toContain('buffer.cipher');
  });

  it('run refuses to start without a key file (a configuration error, exit 2) and says how to make one', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'c.yaml');
    writeFileSync(cfg, `gateway:\n  dataDir: ${join(dir, 'data')}\nkafka:\n  brokers: ["127.0.0.1:1"]\n`);
    const r = await cli(['run', '--config', cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/key file .* does not exist: create one with `wardgate keygen/);
  });

  it('keygen writes a 0600 key file, never overwrites it, rotates on request', async () => {
    const dir = tempDir();
    const key = join(dir, 'k.key');
    const a = await cli(['keygen', '--key-file', key]);
    expect(a.code, a.err).toBe(0);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    const again = await cli(['keygen', '--key-file', key]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already exists; use --rotate/);
    const rot = await cli(['keygen', '--key-file', key, '--rotate']);
    expect(rot.code).toBe(0);
    expect(rot.out).toMatch(/active key 2/);
    const rm = await cli(['keygen', '--key-file', key, '--data', join(dir, 'none'), '--remove', '2']);
    expect(rm.code).toBe(2);
    expect(rm.err).toMatch(/active key/);
    const rm1 = await cli(['keygen', '--key-file', key, '--data', join(dir, 'none'), '--remove', '1']);
    expect(rm1.code, rm1.err).toBe(0);
  });

  it('simulate without Kafka keeps buffering and says so; status reports the backlog (text and --json)', async () => {
    const dir = tempDir();
    const r = await cli(['simulate', '--beds', '3', '--duration', '2s', '--drain-timeout', '500ms', '--brokers', '127.0.0.1:1', '--data', dir, '--seed', '1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/kafka OFFLINE .* buffering/);
    expect(r.out).toMatch(/buffer not empty/);
    expect(existsSync(join(dir, 'wardgate.key'))).toBe(true);
    const s = await cli(['status', '--data', dir, '--json']);
    expect(s.code).toBe(0);
    const j = JSON.parse(s.out);
    expect(j.running).toBe(false);
    expect(j.buffer.totalReadings).toBeGreaterThan(3 * 4);
    expect(j.buffer.perClass.vital.readings).toBeGreaterThan(0);
    expect(j.lastSuccessfulForward).toBeNull();
    const t = await cli(['status', '--data', dir]);
    expect(t.out).toMatch(/vital\s+\d+ readings\s+oldest/);
    expect(t.out).toMatch(/last forward\s+never/);
    // A rotated-out key that still seals the backlog cannot be removed.
    expect((await cli(['keygen', '--data', dir, '--rotate'])).code).toBe(0);
    const rm = await cli(['keygen', '--data', dir, '--remove', '1']);
    expect(rm.code).toBe(1);
    expect(rm.err).toMatch(/key 1 still seals buffered units/);
  });

  it('hash-password prints a salted scrypt hash the MQTT login accepts, never the password', async () => {
    const { spawn } = await import('node:child_process');
    const { verifyPassword } = await import('../../src/devices/mqtt/auth.js');
    const run = (input: string) =>
      new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
        const p = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/cli-entry.ts', 'hash-password'], { stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('exit', (code) => resolve({ code, out, err }));
        p.stdin.end(input);
      });
    const a = await run('correct horse\n');
    expect(a.code, a.err).toBe(0);
    const hash = a.out.trim();
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain('correct horse');
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('wrong', hash)).toBe(false);
    const b = await run('correct horse\n');
    expect(b.out.trim()).not.toBe(hash);
    const empty = await run('');
    expect(empty.code).toBe(2);
  });

  it('status on a folder with no buffer says so and exits 1', async () => {
    const r = await cli(['status', '--data', tempDir()]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/no buffer database/);
  });
});
