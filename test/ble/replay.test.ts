/**
 * A recorded HCI session replays: the controller's recorded packets, sent to a fresh noble and
 * adapter, draw the same host packets as the original run, from the controller set-up through
 * connection, GATT discovery and subscription, up to the first notification.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, replay } from '../../hardware-mocks/ble/replay.js';
import { spawnPtyPair } from '../../hardware-mocks/socat.js';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import { type Pipeline, pipeline, waitFor } from '../devices/pipeline.js';
import { type BleRig, bleRig } from './helpers.js';

describe('HCI record and replay', () => {
  let rig: BleRig | null = null;
  let p: Pipeline | null = null;
  afterEach(async () => {
    await rig?.close();
    await p?.close();
    rig = p = null;
  });

  it('replaying a recorded session draws the same host packets up to the first notification', async () => {
    rig = await bleRig({ wearables: 1, beds: 1, config: { statusInterval: 3_600_000 } });
    p = await pipeline();
    await rig.adapter.start(p.ctx);
    await waitFor(() => rig!.world.controller.stats.notificationsSent > 3, 'notifications');
    await rig.adapter.stop();
    await rig.close();
    const records = readRecord(rig.recordFile);
    const firstNotify = records.findIndex((r) => r.dir === 'c2h' && r.hex.startsWith('02') && r.hex.slice(18, 20) === '1b');
    expect(firstNotify).toBeGreaterThan(0);
    const upTo = records.slice(0, firstNotify + 1);

    // A fresh pty pair: the replayer on one end, a new adapter (new noble) on the other.
    const dir = mkdtempSync(join(tmpdir(), 'wardgate-ble-replay-'));
    const socat = spawnPtyPair(`${dir}/host`, `${dir}/ctrl`);
    try {
      await waitFor(() => existsSync(`${dir}/host`) && existsSync(`${dir}/ctrl`), 'the pty pair');
      const adapter = new BleAdapter(
        bleConfigSchema.parse({
          hci: { uart: { port: `${dir}/host` } },
          statusInterval: 3_600_000,
          devices: [{ address: rig.world.peripherals[0]!.address, bed: 'BED-01' }],
        }),
      );
      const result = replay(upTo, `${dir}/ctrl`);
      const started = adapter.start(p.ctx).catch(() => undefined);
      const r = await result;
      await started;
      await adapter.stop();
      expect(r.divergence).toBeUndefined();
      expect(r.replayed).toBe(upTo.length);
    } finally {
      socat.kill('SIGTERM');
    }
  }, 60_000);
});
