/**
 * Two ward gateways made from one SD card image that was taken after a trial start: the data
 * folder, gateway id included, is on both. Consumers drop a reading as a duplicate when its
 * (gatewayId, seq) was seen, so readings the two make with one id would be dropped as each other's.
 * The copy runs as the shipped CLI on "another machine": in a mount namespace of its own with
 * another /etc/machine-id bind-mounted over the real one (the tests run as root). The test reads
 * both buffers afterwards: the readings each made after the copy share no (gatewayId, seq).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openBuffer, readBufferStats } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import { readStatusFile, statusFilePath } from '../../src/status-file.js';
import { cliChild, REPO, spawnCli, tempDir } from '../helpers/gateway.js';

const CLI = ['--import', 'tsx', join(REPO, 'test/helpers/cli-entry.ts')];
const simulate = (cfg: string): string[] => ['simulate', '-c', cfg, '--beds', '2', '--duration', '3s', '--drain-timeout', '1s', '--no-live'];

/** The readings in a data folder's buffer made after `afterSeq`, as gatewayId/seq. */
async function madeAfter(data: string, afterSeq: number): Promise<string[]> {
  const log = silentLogger();
  const gatewayId = readStatusFile(statusFilePath(data))!.gatewayId;
  const buf = await openBuffer({ dir: data, keyFile: join(data, 'wardgate.key'), gatewayId, events: new Events(log), log });
  const out: string[] = [];
  try {
    for (;;) {
      const l = buf.lease({ maxReadings: 500, maxBytes: 1 << 30 });
      if (!l) break;
      for (const r of l.readings) if (r.seq > afterSeq) out.push(`${r.gatewayId}/${r.seq}`);
      buf.ack(l.id);
    }
  } finally {
    await buf.close();
  }
  return out;
}

describe('a data folder copied to another machine (one SD card image for many gateways)', () => {
  it('the copy takes a new gateway id: the readings the two make afterwards never share a (gatewayId, seq); the original keeps its id', async () => {
    const dir = tempDir();
    const config = (name: string): string => {
      const f = join(dir, `${name}.yaml`);
      writeFileSync(f, `gateway:\n  dataDir: ${join(dir, name)}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog: { level: warn }\n`);
      return f;
    };
    const image = config('image');
    // The trial start before the image was taken.
    const trial = spawnCli(simulate(image));
    expect(await trial.exited, trial.stderr()).toBe(0);
    const idBefore = readFileSync(join(dir, 'image', 'gateway-id'), 'utf8').trim();
    cpSync(join(dir, 'image'), join(dir, 'copy'), { recursive: true });
    const copy = config('copy');
    const atCopy = readBufferStats(join(dir, 'image'))!.lastSeq;

    // Both gateways run: the original here, the copy on another machine.
    const machineId = join(dir, 'other-machine-id');
    writeFileSync(machineId, `${randomBytes(16).toString('hex')}\n`);
    const original = spawnCli(simulate(image));
    const elsewhere = cliChild(
      spawn(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$0" /etc/machine-id && exec "$@"',
          machineId,
          process.execPath,
          ...CLI,
          ...simulate(copy),
        ],
        {
          cwd: REPO,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      ),
    );
    expect(await original.exited, original.stderr()).toBe(0);
    expect(await elsewhere.exited, elsewhere.stderr()).toBe(0);

    expect(readFileSync(join(dir, 'image', 'gateway-id'), 'utf8').trim()).toBe(idBefore);
    const fromOriginal = await madeAfter(join(dir, 'image'), atCopy);
    const fromCopy = await madeAfter(join(dir, 'copy'), atCopy);
    expect(fromOriginal.length).toBeGreaterThan(10);
    expect(fromCopy.length).toBeGreaterThan(10);
    const seen = new Set(fromOriginal);
    expect(fromCopy.filter((k) => seen.has(k))).toEqual([]);
    expect(elsewhere.stderr()).toContain('this data folder was made on another machine');
    expect(original.stderr()).not.toContain('another machine');
  }, 120_000);
});
