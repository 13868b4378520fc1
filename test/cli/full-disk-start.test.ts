import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditPath } from '../../src/audit/log.js';
import { BALLAST_FILE, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { reading } from '../buffer/helpers.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import { waitFor } from '../helpers/gateway.js';
import { fillFilesystem, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';

let fs: Tmpfs;
let root: string;
let mnt: string;

beforeAll(() => {
  ensureBuilt();
  fs = mountTmpfs('wg-fulldisk-cli-', '16m');
  ({ root, mnt } = fs);
}, 120_000);

afterAll(() => fs?.unmount());

const auditEvents = (dir: string): { event: string; detail: Record<string, unknown> }[] =>
  readFileSync(auditPath(dir), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('wardgate run on a full disk', () => {
  it('starts with its backlog, records its start, keeps the space its reserve gave back, and makes the reserve again once space is back', {
    timeout: 60_000,
  }, async () => {
    const data = join(mnt, 'data');
    const key = join(root, 'k.key');
    generateKeyFile(key);
    const buf = await openBuffer({ dir: data, keyFile: key, gatewayId: 'gw-fulldisk', events: new Events(silentLogger()), log: silentLogger() });
    await buf.append(Array.from({ length: 200 }, (_, i) => reading(i)));
    await buf.close();
    expect(statSync(join(data, BALLAST_FILE)).size).toBe(4 * 1024 * 1024);
    const cfg = join(root, 'c.yaml');
    writeFileSync(
      cfg,
      `gateway:\n  dataDir: ${data}\nbuffer:\n  keyFile: ${key}\nkafka:\n  brokers: ["127.0.0.1:1"]\n` +
        'devices:\n  simulator:\n    enabled: true\n    beds: 2\n    interval: 100ms\n',
    );
    expect(fillFilesystem(mnt).bytes).toBeGreaterThan(0);

    const c = spawnBin(['run', '--config', cfg]);
    try {
      // Said once the buffer is open and the gateway runs.
      await waitFor(() => /200 readings buffered from before this start/.test(c.stdout()) || c.proc.exitCode !== null, 30_000, 'the gateway started or exited');
      expect(c.proc.exitCode, c.stderr() + c.stdout()).toBeNull();
      // Its start is in the audit log, written on the full disk.
      expect(auditEvents(data).filter((e) => e.event === 'start' && e.detail.pid === c.proc.pid)).toHaveLength(1);
      // The reserve was given back, and not made again while the disk is still full.
      expect(existsSync(join(data, BALLAST_FILE))).toBe(false);
      // Space is back: the gateway makes its reserve again by itself.
      rmSync(join(mnt, 'filler'));
      await waitFor(
        () => existsSync(join(data, BALLAST_FILE)) && statSync(join(data, BALLAST_FILE)).size === 4 * 1024 * 1024,
        20_000,
        'the reserve made again',
      );
    } finally {
      c.proc.kill('SIGTERM');
      await c.exited;
    }
  });
});
