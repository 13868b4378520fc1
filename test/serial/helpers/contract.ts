/**
 * What every serial protocol's adapter-contract fixture shares (test/serial/contract-*.test.ts):
 * one simulated device on the rig's first pty pair, what it offered counted in bytes it wrote,
 * flooded with valid frames to overwhelm the port, unplugged and plugged again. Each file adds
 * its protocol's garbage (and keepSending, for devices that fall quiet when the gateway stops).
 */
import type { DevicePort } from '../../../hardware-mocks/serial/device-port.js';
import type { FamilyFixture } from '../../devices/adapter-suite.js';
import { sleep, waitFor } from '../../devices/pipeline.js';
import type { Rig } from './rig.js';

/** A simulated device on the device end of a pty pair. */
export interface SerialDevice {
  readonly port: DevicePort;
  start(): void;
  stop(): Promise<void>;
}

export interface SerialFixtureOptions {
  /** The device's tick (ms), for the suite's waits. */
  intervalMs: number;
  /** The i-th valid frame of a flood, and how many `overwhelm` writes at once. */
  flood: (i: number) => Buffer;
  floods: number;
  /** Most readings inside unsettled submissions: the port's bound plus what one decoded slice can complete. */
  maxHeldReadings: number;
}

export function serialFixture(rig: Rig, device: SerialDevice, o: SerialFixtureOptions): FamilyFixture {
  const pair = rig.pairs[0]!;
  let started = false;
  return {
    adapter: rig.adapter,
    family: 'serial',
    async startDevices() {
      if (!started) device.start();
      started = true;
      await waitFor(() => device.port.isOpen, 'the simulated device to open its end');
    },
    offered: () => (device.port.isOpen ? device.port.bytesWritten : undefined),
    intervalMs: o.intervalMs,
    async overwhelm() {
      for (let i = 0; i < o.floods; i++) device.port.write(o.flood(i));
      await waitFor(() => rig.adapter.status().detail?.includes('paused') ?? false, 'the port to be paused');
      await sleep(200);
    },
    maxHeldReadings: o.maxHeldReadings,
    disappear: () => pair.unplug(),
    reappear: () => pair.replug(),
    async close() {
      await device.stop();
      await rig.close();
    },
  };
}
