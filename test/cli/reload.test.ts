/** SIGHUP: a bad file keeps the running configuration and says why; a changed one names what needs a restart. */

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { changedSettings } from '../../src/cli/reload.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { createLogger, setLogLevel } from '../../src/logger.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

interface Sock {
  bind(p: string): void;
  close(): void;
}
const unix = createRequire(import.meta.url)('unix-dgram') as { createSocket(t: 'unix_dgram', cb?: (buf: Buffer) => void): Sock };
const open: Sock[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe('reload on SIGHUP', () => {
  it('names changed settings by path', () => {
    expect(changedSettings({ a: { b: 1, c: [1] }, d: 'x' }, { a: { b: 2, c: [1] }, d: 'x', e: true })).toEqual(['a.b', 'e']);
    expect(changedSettings({ a: { c: [1] } }, { a: { c: [1, 2] } })).toEqual(['a.c']);
  });

  it('a new log level reaches every child logger already given out', () => {
    const root = createLogger({ level: 'warn', destination: { write: () => undefined } as never });
    const child = root.child({ module: 'a' });
    const grandchild = child.child({ family: 'b' });
    setLogLevel(root, 'debug');
    expect([root.level, child.level, grandchild.level]).toEqual(['debug', 'debug', 'debug']);
  });

  it('wardgate run: a bad file keeps running on the old configuration; a changed file is named as needing a restart; both audited', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    const good = `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: warn\n`;
    writeFileSync(cfg, good);
    const sock = join(dir, 'notify.sock');
    const messages: string[] = [];
    const recv = unix.createSocket('unix_dgram', (b) => messages.push(b.toString()));
    recv.bind(sock);
    open.push(recv);
    const readies = () => messages.filter((m) => m.startsWith('READY=1')).length;
    const c = spawnCli(['run', '--config', cfg], { NOTIFY_SOCKET: sock });
    try {
      await waitFor(() => readies() === 1 || c.proc.exitCode !== null, 60_000, 'READY=1');
      expect(c.proc.exitCode, c.stderr()).toBeNull();

      writeFileSync(cfg, good.replace('level: warn', 'level: loud'));
      c.proc.kill('SIGHUP');
      await waitFor(() => readies() === 2 || c.proc.exitCode !== null, 30_000, 'READY=1 after the refused reload');
      expect(c.proc.exitCode).toBeNull();
      expect(messages.filter((m) => m === 'RELOADING=1')).toHaveLength(1);
      await waitFor(() => c.stderr().includes('running configuration stays'), 10_000, 'the refusal in the log');
      const refused = c
        .stderr()
        .split('\n')
        .find((l) => l.includes('running configuration stays'))!;
      expect(JSON.parse(refused).error).toMatch(/log\.level/);

      writeFileSync(cfg, good.replace('127.0.0.1:1', '127.0.0.1:2'));
      c.proc.kill('SIGHUP');
      await waitFor(() => readies() === 3 || c.proc.exitCode !== null, 30_000, 'READY=1 after the second reload');
      await waitFor(() => c.stderr().includes('take effect only after a restart'), 10_000, 'the restart notice');
      const notice = JSON.parse(
        c
          .stderr()
          .split('\n')
          .find((l) => l.includes('take effect only after a restart'))!,
      );
      expect(notice.needsRestart).toEqual(['kafka.brokers']);
      expect(c.stderr()).not.toContain('"msg":"wardgate stopped"');

      // The log level is applied at once; the broker change still waits for a restart.
      writeFileSync(cfg, good.replace('127.0.0.1:1', '127.0.0.1:2').replace('level: warn', 'level: info'));
      c.proc.kill('SIGHUP');
      await waitFor(() => readies() === 4 || c.proc.exitCode !== null, 30_000, 'READY=1 after the third reload');
      await waitFor(() => c.stderr().includes('"msg":"SIGHUP: applied"'), 10_000, 'the applied notice');
      const applied = JSON.parse(
        c
          .stderr()
          .split('\n')
          .find((l) => l.includes('"msg":"SIGHUP: applied"'))!,
      );
      expect(applied.applied).toEqual(['log.level']);
      const later = c
        .stderr()
        .split('\n')
        .filter((l) => l.includes('take effect only after a restart'))
        .map((l) => JSON.parse(l).needsRestart);
      expect(later.at(-1)).toEqual(['kafka.brokers']);

      c.proc.kill('SIGTERM');
      expect(await c.exited).toBe(0);
      // An info line, written only because the level is info now.
      expect(c.stderr()).toContain('"msg":"wardgate stopped"');
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
    const audit = readFileSync(join(data, 'audit.log'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l).event);
    expect(audit).toEqual(expect.arrayContaining(['config_reload_refused', 'config_changed']));
    expect(audit.indexOf('config_reload_refused')).toBeLessThan(audit.indexOf('config_changed'));
  }, 90_000);
});
