/**
 * More registered wearables than connections: the adapter never holds more than its limit,
 * and rotation after the dwell time lets every wearable in, so none starves. Counts come from
 * the controller and the ground-truth file.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../devices/pipeline.js';
import { bleRigEach, truthByDeviceAndClass, valuesByDeviceAndClass } from './helpers.js';

describe('connection limit and rotation', () => {
  const open = bleRigEach();

  it('6 wearables, 2 connections: at most 2 links at once, every wearable served twice', async () => {
    const { rig, p } = await open({ wearables: 6, beds: 3, config: { maxConnections: 2, dwell: 400 } });
    const ctrl = rig.world.controller;
    let maxLinks = 0;
    const sampler = setInterval(() => (maxLinks = Math.max(maxLinks, ctrl.connectedAddresses().length)), 5);
    await rig.adapter.start(p.ctx);
    const served = (): Map<string, Set<number>> => {
      const m = new Map<string, Set<number>>();
      for (const t of rig.truth()) if (t.how !== 'read') (m.get(t.address) ?? m.set(t.address, new Set()).get(t.address)!).add(t.link);
      return m;
    };
    // Every wearable sends on at least two separate connections: rotation comes round again.
    await waitFor(
      () => {
        const m = served();
        return m.size === 6 && [...m.values()].every((links) => links.size >= 2);
      },
      'every wearable served on two connections',
      45_000,
    );
    clearInterval(sampler);
    expect(maxLinks).toBeLessThanOrEqual(2);
    expect(maxLinks).toBe(2);
    expect(ctrl.stats.refusedAtLimit).toBe(0); // the adapter never asked beyond its limit
    // Every value a wearable sent on a link that a rotation ended became its reading, once, in
    // order: also those the host read after it chose to rotate the device out and before the link
    // was gone. (Each wearable's last link, still open at the end, is left out.)
    await rig.world.powerOff();
    await rig.adapter.stop();
    const truth = rig.truth();
    const lastLink = new Map<string, number>();
    for (const t of truth) lastLink.set(t.address, Math.max(lastLink.get(t.address) ?? 0, t.link));
    const expected = truthByDeviceAndClass(truth.filter((t) => t.link !== lastLink.get(t.address)));
    const actual = valuesByDeviceAndClass(p.drain());
    expect([...expected.keys()].filter((k) => k.endsWith('/vital'))).toHaveLength(6);
    for (const [id, list] of expected) expect(actual.get(id)?.slice(0, list.length), `${id} (HCI record: ${rig.recordFile})`).toEqual(list);
  }, 60_000);
});
