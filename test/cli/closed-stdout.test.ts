/**
 * Standard output that goes away while the gateway runs (the reading end of its pipe closed:
 * `wardgate simulate | head`, or a broken stream to journald): its writes fail with EPIPE, and
 * the shipped command must go on buffering readings and stop cleanly, not end on an unhandled
 * 'error' event (src/cli/stdio.ts).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import { tempDir } from '../helpers/gateway.js';

beforeAll(() => ensureBuilt(), 120_000);

describe('stdout closed under the gateway', () => {
  it('the gateway goes on, commits the simulated readings and exits 0', { timeout: 60_000 }, async () => {
    const data = join(tempDir('wg-epipe-'), 'data');
    const c = spawnBin(['simulate', '--beds', '5', '--duration', '4s', '--brokers', '127.0.0.1:9', '--data', data]);
    // The reading end of its stdout, closed before it has written anything there.
    c.proc.stdout!.destroy();
    const code = await c.exited;
    expect(c.stderr()).not.toMatch(/EPIPE/);
    expect(code, c.stderr()).toBe(0);
    // It went on after its first write to stdout failed: readings committed over the run, and a clean stop.
    const s = readStatusFile(statusFilePath(data));
    expect(s?.stoppedAt).toBeTypeOf('number');
    expect(s?.ingestedTotal ?? 0).toBeGreaterThan(0);
  });
});
