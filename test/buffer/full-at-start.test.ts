import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, auditPath } from '../../src/audit/log.js';
import { BALLAST_FILE, LOCK_FILE, openBuffer } from '../../src/buffer/index.js';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { fillFilesystem, mountTmpfs, type Tmpfs } from '../helpers/tmpfs.js';
import { reading } from './helpers.js';

let fs: Tmpfs;
let root: string;
let mnt: string;

beforeAll(() => {
  fs = mountTmpfs('wg-fullstart-', '16m');
  ({ root, mnt } = fs);
});

afterAll(() => fs?.unmount());

describe('started on a full disk', () => {
  it('opens, drains its backlog, writes its audit log, and makes its reserve again once space is back', async () => {
    const log = silentLogger();
    const events = new Events(log);
    const keyFile = join(root, 'key.json');
    generateKeyFile(keyFile);
    const dir = join(mnt, 'data');
    const open = () => openBuffer({ dir, keyFile, gatewayId: 'gw-fullstart', events, log, commitIntervalMs: 1, maintenanceIntervalMs: 50 });

    // A backlog, with the default 4 MiB reserve beside it.
    const offered = Array.from({ length: 300 }, (_, i) => reading(i, { value: 1000 + i }));
    const first = await open();
    await first.append(offered);
    await first.close();
    expect(statSync(join(dir, BALLAST_FILE)).size).toBe(4 * 1024 * 1024);

    const { path: filler, bytes } = fillFilesystem(mnt);
    expect(bytes).toBeGreaterThan(0);
    // The audit log on the full disk: the append fails, and leaves no lock behind to block the next one.
    const audit = AuditLog.forDataDir(dir);
    expect(() => audit.append('test_event', { n: 1 })).toThrow(/ENOSPC/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);

    // Restarted on the full disk: it opens (the reserve is given back) and every reading offered comes out once.
    const buf = await open();
    try {
      await drainAndRecover();
    } finally {
      await buf.close();
    }
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);

    async function drainAndRecover(): Promise<void> {
      const drained: number[] = [];
      for (let l = buf.lease({ maxReadings: 100, maxBytes: 1 << 30 }); l; l = buf.lease({ maxReadings: 100, maxBytes: 1 << 30 })) {
        drained.push(...l.readings.map((r) => r.value));
        buf.ack(l.id);
      }
      expect(drained.sort((a, b) => a - b)).toEqual(offered.map((r) => r.value));
      expect(existsSync(join(dir, BALLAST_FILE))).toBe(false);
      expect(buf.isShedding).toBe(true);
      // The audit log takes records again (the reserve's space).
      expect(audit.append('test_event', { n: 2 }).seq).toBeGreaterThan(0);

      // Space is back: the reserve is made again, and readings are taken.
      rmSync(filler);
      const deadline = Date.now() + 10_000;
      while (!existsSync(join(dir, BALLAST_FILE)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statSync(join(dir, BALLAST_FILE)).size).toBe(4 * 1024 * 1024);
      await buf.append([reading(5000, { value: 5000 })]);
      const after = buf.lease({ maxReadings: 100, maxBytes: 1 << 30 });
      expect(after?.readings.map((r) => r.value)).toEqual([5000]);
    }
  });

  it('an audit lock left without a pid (a power cut between making it and writing it) is taken over once it is old', () => {
    const dir = join(root, 'audit-empty-lock');
    mkdirSync(dir);
    const audit = AuditLog.forDataDir(dir);
    audit.append('test_event', { n: 1 });
    const lock = `${auditPath(dir)}.lock`;
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(audit.append('test_event', { n: 2 }).seq).toBe(2);
    expect(existsSync(lock)).toBe(false);
  });
});
