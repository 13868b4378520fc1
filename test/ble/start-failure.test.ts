/**
 * A missing or silent controller is a clear start failure, not a hang: `start` rejects with a
 * message naming what to check, and the adapter is stopped (and can be started again).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import { pipeline } from '../devices/pipeline.js';
import { ManualClock } from './manual-clock.js';

describe('start without a usable controller', () => {
  it('a UART port that does not exist: start rejects at the start timeout, naming the causes', async () => {
    const p = await pipeline();
    const clock = new ManualClock();
    const port = join(mkdtempSync(join(tmpdir(), 'wardgate-ble-missing-')), 'no-such-tty');
    const adapter = new BleAdapter(
      bleConfigSchema.parse({ hci: { uart: { port } }, startTimeout: 4000, devices: [{ address: 'C0:FF:EE:00:00:01', bed: 'BED-01' }] }),
      { clock },
    );
    const started = adapter.start(p.ctx);
    let settled = false;
    const outcome = started
      .then(
        () => 'started',
        (e: Error) => e.message,
      )
      .finally(() => (settled = true));
    clock.advanceTo(clock.now() + 3999);
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false); // it waits for the controller until the start timeout...
    clock.advanceTo(clock.now() + 1); // ...and no longer
    const message = await outcome;
    expect(message).toContain('did not power on within 4000 ms');
    expect(message).toMatch(/rfkill/);
    expect(message).toMatch(/CAP_NET_RAW/);
    expect(adapter.status().state).toBe('stopped');
    await p.close();
  });

  it('a file that is not a controller (nothing answers the reset): the same clear failure', async () => {
    const p = await pipeline();
    const clock = new ManualClock();
    const port = join(mkdtempSync(join(tmpdir(), 'wardgate-ble-silent-')), 'not-a-tty');
    writeFileSync(port, '');
    const adapter = new BleAdapter(bleConfigSchema.parse({ hci: { uart: { port } }, startTimeout: 2000 }), { clock });
    const outcome = adapter.start(p.ctx).then(
      () => 'started',
      (e: Error) => e.message,
    );
    clock.advanceTo(clock.now() + 2000);
    expect(await outcome).toContain('did not power on');
    await p.close();
  });
});
