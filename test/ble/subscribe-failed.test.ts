/**
 * A wearable that refuses its CCCD writes (ATT error response): noble never settles such a
 * write, so the adapter gives it up after `connectTimeout`, counts it
 * (`device_error{reason="subscribe_failed"}`), drops that link and tries again after the
 * backoff, while the other wearable keeps streaming; once the wearable accepts the writes
 * again, its readings flow. Counts of refusals and connection attempts come from the
 * simulated controller.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach } from './helpers.js';

describe('CCCD write refused', () => {
  const open = bleRigEach();

  it('counted, link dropped and retried with backoff, recovered once accepted; the other wearable streams meanwhile', async () => {
    const { rig, p } = await open({ wearables: 2, beds: 2, config: { connectTimeout: 300, backoff: { initial: 50, max: 200 }, statusInterval: 3_600_000 } });
    const ctrl = rig.world.controller;
    const [refuser, other] = rig.world.peripherals as [(typeof rig.world.peripherals)[0], (typeof rig.world.peripherals)[0]];
    refuser.refuseCccd = 0x03; // Write Not Permitted
    const id = (a: string): string => `ble-${a.replace(/:/g, '')}`;
    const failed = (): Promise<number> => p.events.count('device_error', { family: 'ble', reason: 'subscribe_failed' });
    const readingsOf = (rs: { deviceId: string; metric: string }[], a: string): number =>
      rs.filter((r) => r.deviceId === id(a) && r.metric !== 'gateway_event' && r.metric !== 'signal_strength').length;

    await rig.adapter.start(p.ctx);
    await waitFor(async () => (await failed()) >= 3, 'three refused set-ups counted');
    // Each refused set-up: one refused CCCD write, one count, the link dropped, a new attempt.
    expect(refuser.cccdRefused).toBeGreaterThanOrEqual(3);
    expect(ctrl.stats.connectAttempts.get(refuser.address)).toBeGreaterThanOrEqual(3);
    expect(rig.adapter.status().state).toBe('degraded');
    // Meanwhile the other wearable streams; the refuser has sent nothing.
    const before = p.drain();
    expect(readingsOf(before, other.address)).toBeGreaterThan(10);
    expect(readingsOf(before, refuser.address)).toBe(0);
    expect(rig.truth().filter((t) => t.address === refuser.address && t.how !== 'read')).toEqual([]);

    refuser.refuseCccd = 0;
    await waitFor(() => ctrl.subscribedLinks() === 2, 'the refuser subscribed');
    await waitFor(() => rig.adapter.status().state === 'running', 'running again');
    await waitFor(() => readingsOf(p.drain(), refuser.address) > 0, 'readings from the refuser');
    // One count per refused write, no more (the successful set-up is not counted), one attempt per set-up.
    expect(await failed()).toBe(refuser.cccdRefused);
    expect(ctrl.stats.connectAttempts.get(refuser.address)).toBe(refuser.cccdRefused + 1);
    expect(ctrl.connectedAddresses().sort()).toEqual([refuser.address, other.address].sort());
  }, 60_000);

  it('refused when subscribing again after a backpressure pause: counted, dropped, set up again; the other wearable resumes', async () => {
    const { rig, p } = await open({
      wearables: 2,
      beds: 2,
      intervalMs: 10,
      config: { maxHeldReadings: 50, connectTimeout: 300, backoff: { initial: 50, max: 200 }, statusInterval: 3_600_000 },
    });
    const ctrl = rig.world.controller;
    const [refuser, other] = rig.world.peripherals as [(typeof rig.world.peripherals)[0], (typeof rig.world.peripherals)[0]];
    const failed = (): Promise<number> => p.events.count('device_error', { family: 'ble', reason: 'subscribe_failed' });
    await rig.adapter.start(p.ctx);
    await waitFor(() => ctrl.subscribedLinks() === 2, 'both subscribed');

    p.gate.hold();
    await waitFor(() => ctrl.subscribedLinks() === 0, 'both unsubscribed while the buffer is held');
    expect(await failed()).toBe(0);
    const attempts = ctrl.stats.connectAttempts.get(refuser.address)!;
    refuser.refuseCccd = 0x03;
    p.gate.release();
    await waitFor(async () => (await failed()) >= 1, 'the refused resubscription counted');
    await waitFor(() => (ctrl.stats.connectAttempts.get(refuser.address) ?? 0) > attempts, 'the refuser connected again');
    const sent = ctrl.stats.notificationsSent;
    await waitFor(() => ctrl.stats.notificationsSent > sent + 50 && ctrl.connectedAddresses().includes(other.address), 'the other wearable sending again');

    refuser.refuseCccd = 0;
    await waitFor(() => ctrl.subscribedLinks() === 2, 'the refuser subscribed again');
    await waitFor(() => rig.adapter.status().state === 'running', 'running again');
    expect(await failed()).toBe(refuser.cccdRefused);
  }, 60_000);
});
