/** Start-up checks for a raw HCI socket: capabilities from /proc/self/status, rfkill, bluetoothd; and the adapter refusing at once. */
import { describe, expect, it } from 'vitest';
import { BleAdapter } from '../../src/devices/ble/adapter.js';
import { bleConfigSchema } from '../../src/devices/ble/config.js';
import { assess, capabilities } from '../../src/devices/ble/preflight.js';
import { pipeline } from '../devices/pipeline.js';

const ALL = { netRaw: true, netAdmin: true };

describe('BLE preflight', () => {
  it.each([
    ['CapEff:\t0000000000000000', false, false],
    ['CapEff:\t0000000000003000', true, true], // bits 12 and 13
    ['CapEff:\t0000000000002000', true, false],
    ['CapEff:\t000001ffffffffff', true, true],
    ['Name: x', false, false],
  ])('%j -> raw %s admin %s', (status, netRaw, netAdmin) => {
    expect(capabilities(`Name:\tnode\n${status}\nCapBnd:\t000001ffffffffff\n`)).toEqual({ netRaw, netAdmin });
  });
  it('missing capabilities and an rfkill block are errors; bluetoothd is a warning', () => {
    expect(assess(ALL, [{ type: 'bluetooth', soft: false, hard: false }], false, 1)).toEqual({ errors: [], warnings: [] });
    const a = assess(
      { netRaw: false, netAdmin: true },
      [
        { type: 'bluetooth', soft: true, hard: false },
        { type: 'wlan', soft: false, hard: false },
      ],
      true,
      1,
    );
    expect(a.errors).toHaveLength(2);
    expect(a.errors[0]).toMatch(/lacks CAP_NET_RAW for/); // only the missing one is named as lacking
    expect(a.errors[1]).toContain('rfkill unblock bluetooth');
    expect(a.warnings[0]).toContain('hci1');
    // One unblocked Bluetooth radio is enough.
    expect(
      assess(
        ALL,
        [
          { type: 'bluetooth', soft: true, hard: false },
          { type: 'bluetooth', soft: false, hard: false },
        ],
        false,
        0,
      ).errors,
    ).toEqual([]);
  });
  it('the adapter refuses to start at once, with the reasons', async () => {
    const p = await pipeline();
    const adapter = new BleAdapter(bleConfigSchema.parse({ hci: { deviceId: 0 } }), {
      preflight: () => ({ errors: ['wardgate lacks CAP_NET_RAW'], warnings: [] }),
    });
    await expect(adapter.start(p.ctx)).rejects.toThrow(/cannot be used: wardgate lacks CAP_NET_RAW/);
    expect(adapter.status().state).toBe('stopped');
    await p.close();
  });
});
