/**
 * The status file is rewritten in place each second (no new file renamed over it: on ext4 that
 * forced a block write and its journal commit every second). What a reader gets must still be
 * exactly the last status written, whether it is longer or shorter than the one before.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LiveStatus } from '../../src/status-file.js';
import { readStatusFile, statusFilePath, writeStatusFile } from '../../src/status-file.js';

function status(detail: string, updatedAt: number): LiveStatus {
  return {
    pid: 1,
    gatewayId: 'gw-t',
    startedAt: 0,
    updatedAt,
    mode: 'run',
    brokers: ['k:9092'],
    forwarder: {} as LiveStatus['forwarder'],
    ingestedTotal: updatedAt,
    readingsPerSecond: 0,
    adapters: [{ family: 'serial', state: 'running', devices: 1, detail }],
  };
}

describe('status file', () => {
  it('reads back exactly the last status written, after a longer one, a shorter one and a much shorter one', () => {
    const path = statusFilePath(mkdtempSync(join(tmpdir(), 'wg-status-file-')));
    const seq = [status('a'.repeat(300), 1), status('b'.repeat(20), 2), status('c'.repeat(9000), 3), status('d', 4), status('e'.repeat(50), 5)];
    for (const s of seq) {
      writeStatusFile(path, s);
      expect(readStatusFile(path)).toEqual(s);
    }
    // The much longer file (9000 characters of detail) was cut back, not kept as padding.
    expect(statSync(path).size).toBeLessThan(5000);
  });

  it('writes in place: the same file (inode) each time, mode 0640 when created', () => {
    const path = statusFilePath(mkdtempSync(join(tmpdir(), 'wg-status-file-')));
    writeStatusFile(path, status('x', 1));
    const first = statSync(path);
    expect(first.mode & 0o777).toBe(0o640);
    writeStatusFile(path, status('y'.repeat(100), 2));
    writeStatusFile(path, status('z', 3));
    expect(statSync(path).ino).toBe(first.ino);
    expect(readStatusFile(path)?.updatedAt).toBe(3);
  });

  it('a missing or unreadable file is null', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-status-file-'));
    expect(readStatusFile(join(dir, 'none.json'))).toBeNull();
    writeFileSync(join(dir, 'torn.json'), '{"pid": 1, "gatew');
    expect(readStatusFile(join(dir, 'torn.json'))).toBeNull();
    expect(readFileSync(join(dir, 'torn.json'), 'utf8')).toContain('gatew');
  });
});
