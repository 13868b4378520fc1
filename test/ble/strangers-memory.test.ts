/**
 * Phones and beacons near a ward advertise under private addresses that change every few
 * minutes: the gateway hears ever more addresses that are not on its allow-list. noble kept every
 * one; advertisements of about 25,000 ran the shipped gateway (bin/wardgate.js, its 64 MiB heap)
 * out of memory. The simulated world runs as its own process (hardware-mocks/ble/world-cli.ts)
 * with two registered straps, and sends the advertisements of 40,000 strangers; the gateway must
 * live through it, under MemoryHigh, and keep taking the straps' readings after it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { Cleanup } from '../mqtt/helpers/gateway.js';
import { freePort } from '../mqtt/helpers/mosquitto.js';
import { assertBuilt, REPO, runShipped, type Setup, statusReaches, stopUnderMemoryHigh } from '../mqtt/helpers/shipped.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('BLE: strangers around the ward (shipped heap, real processes)', () => {
  it('lives through the advertisements of 40,000 addresses not on the allow-list, under MemoryHigh, and keeps taking the wearables’ readings', async () => {
    assertBuilt();
    const world = spawn(process.execPath, ['--import', 'tsx', 'hardware-mocks/ble/world-cli.ts', '--straps', '2', '--interval', '200'], {
      cwd: REPO,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    cleanup.add(async () => {
      if (world.exitCode !== null) return;
      const gone = new Promise((r) => world.once('exit', r));
      world.kill('SIGKILL');
      await gone;
    });
    const lines = createInterface({ input: world.stdout! })[Symbol.asyncIterator]();
    const next = async (): Promise<Record<string, unknown>> => JSON.parse(String((await lines.next()).value)) as Record<string, unknown>;
    const hello = (await next()) as { hostPort: string; addresses: string[] };

    const dir = mkdtempSync(join(tmpdir(), 'wardgate-ble-strangers-'));
    cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
    const s: Setup = { dir, dataDir: join(dir, 'data'), keyFile: join(dir, 'wardgate.key'), configFile: join(dir, 'wardgate.json') };
    generateKeyFile(s.keyFile);
    writeFileSync(
      s.configFile,
      JSON.stringify({
        gateway: { id: 'gw-ble-strangers', dataDir: s.dataDir },
        buffer: { keyFile: s.keyFile },
        kafka: { brokers: [`127.0.0.1:${await freePort()}`], retry: { initial: 1000, max: 5000 } },
        log: { level: 'warn' },
        devices: {
          // No read pacing: the flood reaches the gateway as fast as it can take it (the test's time).
          ble: { hci: { uart: { port: hello.hostPort, readPacing: 0 } }, devices: hello.addresses.map((address, i) => ({ address, bed: `BED-${i}` })) },
        },
      }),
    );
    const run = runShipped(cleanup, s.configFile);
    const ingested = (st: { ingestedTotal: number }): number => st.ingestedTotal;
    expect(await statusReaches(s, run, 10, 60_000, ingested), run.output().slice(-3000)).toBeGreaterThanOrEqual(10);

    for (let k = 0; k < 8 && run.alive(); k++) {
      world.stdin!.write('strangers 5000\n');
      // A dead gateway reads no more: the world's writes then wait for ever.
      const answer = await Promise.race([next(), run.exited.then(() => null)]);
      if (answer) expect(answer).toEqual({ strangers: 5000 });
    }
    // The wearables' readings go on: 50 more than when the flood ended (two straps, 5 a second each).
    const after = await statusReaches(s, run, 0, 1000, ingested);
    const later = await statusReaches(s, run, after + 50, 60_000, ingested);
    world.stdin!.write('quit\n');
    await stopUnderMemoryHigh(run, 'BLE strangers: 40,000 addresses');
    expect(later).toBeGreaterThanOrEqual(after + 50);
  }, 180_000);
});
