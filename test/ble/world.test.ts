/**
 * The simulated ward: 20 wearables across 10 beds, noble's own HCI/L2CAP/ATT/GATT code over
 * the simulated controller, the real adapter, the real buffer. Devices drop at random
 * (remote disconnects, out-of-range spells) and the controller is powered off and on. Every
 * value the simulator sent while connected (its ground-truth file) becomes exactly its
 * readings, once, in order, with the right bed; malformed values are counted, each once;
 * strangers on the air are never connected.
 */
import { describe, expect, it } from 'vitest';
import { rng } from '../../hardware-mocks/rng.js';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach } from './helpers.js';

const STATUS_METRICS = new Set(['gateway_event', 'signal_strength']);
const key = (metric: string, value: number): string => `${metric}=${value}`;

describe('simulated BLE ward', () => {
  const open = bleRigEach();

  it('20 wearables, 10 beds, random drops and a power cycle: every sent value becomes its readings exactly once, with its bed', async () => {
    const { rig, p } = await open({
      wearables: 20,
      beds: 10,
      strangers: 3,
      intervalMs: 100,
      config: { maxConnections: 20, statusInterval: 300, connectTimeout: 1000 },
    });
    const { world, adapter } = rig;
    const ctrl = world.controller;
    // One strap sends a malformed value every 10th time.
    const flaky = world.peripherals[0]!;
    (flaky as unknown as { malformedEvery: number }).malformedEvery = 10;
    await adapter.start(p.ctx);
    const registered = [...rig.beds.keys()];
    const allConnected = (): boolean => registered.every((a) => ctrl.connectedAddresses().includes(a));
    await waitFor(allConnected, 'all 20 wearables connected', 30_000);
    await waitFor(() => p.gate.accepted > 200, 'readings flowing');

    // Random drops: remote disconnects and out-of-range spells.
    const rnd = rng(42);
    for (let round = 0; round < 6; round++) {
      const a = registered[Math.floor(rnd() * registered.length)]!;
      if (rnd() < 0.5) await ctrl.remoteDisconnect(a);
      else {
        await ctrl.setInRange(a, false);
        const before = ctrl.stats.notificationsSent;
        await waitFor(() => ctrl.stats.notificationsSent > before + 20, 'others keep sending');
        await ctrl.setInRange(a, true);
      }
      await waitFor(allConnected, `all connected again after drop ${round}`, 30_000);
    }

    // Power cycle: the controller goes away (the host's UART closes) and comes back.
    await world.powerOff();
    await waitFor(() => adapter.status().state === 'degraded', `degraded while the adapter is off (${adapter.status().detail})`);
    await world.powerOn();
    await waitFor(allConnected, 'all connected after the power cycle', 30_000);
    const after = ctrl.stats.notificationsSent;
    await waitFor(() => ctrl.stats.notificationsSent > after + 200, 'values after the power cycle');
    expect(adapter.status().state).toBe('running');

    // End: the controller stops after the host has read everything it sent; then the adapter settles.
    await world.powerOff();
    await adapter.stop();
    const readings = p.drain();
    const truth = rig.truth();

    // Strangers were never connected to.
    for (const a of ctrl.connectRequests) expect(rig.beds.has(a)).toBe(true);
    expect(world.peripherals.filter((x) => !rig.beds.has(x.address))).toHaveLength(3);

    // Malformed values: each counted once.
    const malformed = truth.filter((t) => t.malformed).length;
    expect(malformed).toBeGreaterThan(0);
    expect(await p.events.count('frame_rejected', { family: 'ble' })).toBe(malformed);

    // Per device and class (the buffer leases class by class; battery is a status reading), the
    // readings in order equal what the simulator sent, in order.
    const cls = (metric: string): string => (metric === 'battery_level' ? 'status' : 'vital');
    const expected = new Map<string, string[]>();
    for (const t of truth) {
      if (t.malformed) continue;
      for (const v of t.values) {
        const id = `ble-${t.address.replace(/:/g, '')}/${cls(v.metric)}`;
        const list = expected.get(id) ?? [];
        list.push(key(v.metric, v.value));
        expected.set(id, list);
      }
    }
    const actual = new Map<string, string[]>();
    const bedById = new Map([...rig.beds].map(([a, b]) => [`ble-${a.replace(/:/g, '')}`, b]));
    for (const r of readings) {
      expect(r.bed).toBe(bedById.get(r.deviceId));
      expect(r.deviceKind).toBe('ble');
      if (STATUS_METRICS.has(r.metric)) continue;
      const id = `${r.deviceId}/${cls(r.metric)}`;
      const list = actual.get(id) ?? [];
      list.push(key(r.metric, r.value));
      actual.set(id, list);
    }
    expect(expected.size).toBe(40);
    for (const [id, list] of expected) expect(actual.get(id), `${id} (HCI record: ${rig.recordFile})`).toEqual(list);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    // Link status readings: at least one up and one down per device (the power cycle dropped them all).
    for (const id of bedById.keys()) {
      const links = readings.filter((r) => r.deviceId === id && r.metric === 'gateway_event').map((r) => r.value);
      expect(links).toContain(1);
      expect(links).toContain(0);
    }
  }, 60_000);
});
