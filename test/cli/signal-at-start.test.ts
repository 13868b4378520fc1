/**
 * A SIGTERM that arrives while `wardgate run` starts, at the instant it logs "wardgate started"
 * (before it would have gone on to anything else), stops it in order: exit 0, its stop summary
 * printed, the buffer closed. Before the fix the handlers were installed only after the start,
 * and such a signal met the default action: the process was killed (exit by signal, no summary),
 * which the shared --pretty test also met now and then on a loaded machine.
 * The process is paused at that log line by a preload (test/helpers/pause-at-log.mjs) reading a
 * named pipe; the test signals it while it is held there, then lets it go on.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, open, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { REPO, spawnCli, tempDir } from '../helpers/gateway.js';

describe('a signal while wardgate starts', () => {
  it('SIGTERM at the "wardgate started" line: an orderly stop, exit 0', async () => {
    const dir = tempDir();
    const keyFile = join(dir, 'wardgate.key');
    generateKeyFile(keyFile);
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, `gateway:\n  dataDir: ${join(dir, 'data')}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n`);
    const fifo = join(dir, 'pause');
    execFileSync('mkfifo', [fifo]);
    const c = spawnCli(['run', '--config', cfg], {
      NODE_OPTIONS: `--import ${join(REPO, 'test/helpers/pause-at-log.mjs')}`,
      WG_PAUSE_TEXT: 'wardgate started',
      WG_PAUSE_FIFO: fifo,
    });
    try {
      // open(2) of a FIFO for writing returns once the process opened it to read (libuv's pool
      // runs it, not this event loop): from then on the process is held at the line.
      const fd = await new Promise<number>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`the process never reached the line: ${c.stderr()}`)), 60_000);
        open(fifo, 'w', (e, fd) => {
          clearTimeout(t);
          if (e) reject(e);
          else resolve(fd);
        });
      });
      expect(c.proc.exitCode, c.stderr()).toBeNull();
      c.proc.kill('SIGTERM');
      // Let the signal land while the process is still held, then release it.
      await new Promise((r) => setTimeout(r, 200));
      try {
        writeSync(fd, 'go');
      } catch (e) {
        // EPIPE: the reader is gone, the signal ended the process while it was held (asserted below).
        if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e;
      }
      closeSync(fd);
      const code = await c.exited;
      expect(c.proc.signalCode, c.stderr()).toBeNull();
      expect(code, c.stderr()).toBe(0);
      expect(c.stdout()).toMatch(/summary: gateway gw-[0-9a-f]+: 0 readings committed/);
    } finally {
      if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    }
  }, 90_000);
});
