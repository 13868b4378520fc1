/**
 * The contract every device family passes (as aedes-persistence tests every persistence).
 *
 * How a family plugs in: write a test file that calls
 *
 *   adapterSuite('ble', async (p) => ({ adapter, startDevices, offered, overwhelm, maxHeldReadings, close, garbage, disappear, reappear }))
 *
 * where `p` is the real pipeline (test/devices/pipeline.ts: real SQLite buffer and Ingest
 * behind a GateSink the suite holds or makes refuse) and the fixture drives the family's
 * simulated devices at the lowest seam (a pty, a simulated HCI, an MQTT client). Expected
 * counts come from what the fixture's devices offered, never from the adapter's counters:
 *
 *  - `adapter` is created but not started; the suite starts it with `p.ctx`.
 *  - `startDevices()` makes the devices stream valid readings (idempotent).
 *  - `offered()` counts what the devices sent so far (readings, frames or bytes: any unit
 *    that grows while they stream); `undefined` while the devices cannot send (they live
 *    inside the adapter, as the simulator's, or their connection is gone), where the suite
 *    waits a few of `intervalMs` instead.
 *  - `overwhelm()` resolves once the devices have offered far more than `maxHeldReadings`
 *    (or are blocked because the adapter stopped reading) while the suite holds the sink.
 *  - `garbage()` sends bad input (bad frames, non-finite values) through the device side and
 *    returns how many bad items it sent, each of which must be counted exactly once in
 *    frame_rejected{family} + reading_rejected{family}.
 *  - `disappear()`/`reappear()` take the device away (unplug, power off) and bring it back.
 *
 * A family whose devices cannot carry bad input or cannot go away (only the simulator, whose
 * devices live inside the adapter) says so with `{ garbage: false }` / `{ disappear: false }`:
 * those tests are then not registered (rather than passing vacuously).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceAdapter } from '../../src/devices/types.js';
import { type Pipeline, pipeline, sleep, waitFor } from './pipeline.js';

export interface FamilyFixture {
  adapter: DeviceAdapter;
  /** The family label its readings and events carry (deviceKind / events `family`). */
  family: string;
  startDevices(): Promise<void>;
  offered(): number | undefined;
  /** Tick of the family's devices, for families without `offered`. */
  intervalMs?: number;
  overwhelm(): Promise<void>;
  /** Most readings the adapter may have inside unsettled submissions. */
  maxHeldReadings: number;
  garbage?(): Promise<number>;
  /**
   * Keeps the devices sending after the adapter stopped, for devices that fall quiet when the
   * gateway says goodbye (a released association): returns what ends it.
   */
  keepSending?(): () => void;
  disappear?(): Promise<void>;
  reappear?(): Promise<void>;
  close(): Promise<void>;
}

export type FixtureFactory = (p: Pipeline) => Promise<FamilyFixture>;

async function rejections(p: Pipeline, family: string): Promise<number> {
  return (await p.events.count('frame_rejected', { family })) + (await p.events.count('reading_rejected', { family }));
}

/** Resolves once the devices offered more than they had (or, without a count, after a few ticks). */
async function devicesProgress(f: FamilyFixture, by = 3): Promise<void> {
  const at = f.offered();
  if (at === undefined) return sleep((f.intervalMs ?? 50) * (by + 2));
  let gone = false;
  await waitFor(() => {
    const now = f.offered();
    gone = now === undefined;
    return gone || now! >= at + by;
  }, 'the devices to send more');
  if (gone) await sleep((f.intervalMs ?? 50) * (by + 2));
}

export interface SuiteOptions {
  garbage?: boolean;
  disappear?: boolean;
}

export function adapterSuite(name: string, make: FixtureFactory, opts: SuiteOptions = {}): void {
  const { garbage = true, disappear = true } = opts;
  describe(`device adapter contract: ${name}`, () => {
    let p: Pipeline | null = null;
    let f: FamilyFixture | null = null;
    const setup = async (): Promise<{ p: Pipeline; f: FamilyFixture }> => {
      p = await pipeline();
      f = await make(p);
      return { p, f };
    };
    afterEach(async () => {
      p?.gate.release();
      await f?.adapter.stop().catch(() => undefined);
      await f?.close();
      await p?.close();
      p = f = null;
    });

    it('is stopped until started, runs, stops, refuses a second start, and starts again', async () => {
      const { p, f } = await setup();
      expect(f.adapter.status().state).toBe('stopped');
      await f.adapter.start(p.ctx);
      expect(['running', 'degraded']).toContain(f.adapter.status().state);
      await expect(f.adapter.start(p.ctx)).rejects.toThrow();
      await f.startDevices();
      await waitFor(() => p.gate.accepted > 0, 'first readings');
      await f.adapter.stop();
      expect(f.adapter.status().state).toBe('stopped');
      await f.adapter.stop(); // twice is harmless
      const before = p.gate.accepted;
      await f.adapter.start(p.ctx);
      await f.startDevices(); // devices that lost their connection reconnect, as real ones do
      await waitFor(() => p.gate.accepted > before, 'readings after a restart');
      const rs = p.drain();
      expect(rs.length).toBeGreaterThan(0);
      for (const r of rs) expect(Number.isFinite(r.value)).toBe(true);
    });

    it('stop waits for the submissions it made: unresolved while the sink holds one, resolved once they settle', async () => {
      const { p, f } = await setup();
      await f.adapter.start(p.ctx);
      await f.startDevices();
      await waitFor(() => p.gate.accepted > 0, 'readings');
      p.gate.hold();
      await waitFor(() => p.gate.waitingNow > 0, 'a submission the sink holds');
      let stopped = false;
      const stopping = f.adapter.stop().then(() => {
        stopped = true;
      });
      // A stop that did not wait would have resolved by now; one that waits cannot (the MQTT
      // families give their acknowledgements up to 2 s, so look well before that).
      await sleep(300);
      expect(stopped, 'stop resolved while its submission was still with the sink').toBe(false);
      p.gate.release();
      await stopping;
      expect(p.gate.heldNow).toBe(0);
    });

    it('stops while devices stream: stop resolves and nothing is submitted afterwards', async () => {
      const { p, f } = await setup();
      await f.adapter.start(p.ctx);
      await f.startDevices();
      await waitFor(() => p.gate.accepted > 0, 'readings');
      await f.adapter.stop();
      const submissions = p.gate.submissions;
      const quiet = f.keepSending?.();
      try {
        await devicesProgress(f);
      } finally {
        quiet?.();
      }
      expect(p.gate.submissions).toBe(submissions);
      expect(f.adapter.status().state).toBe('stopped');
    });

    if (garbage)
      it('counts garbage and non-finite input, never throws, and keeps taking good readings', async () => {
        const { p, f } = await setup();
        if (!f.garbage) throw new Error(`${name}: the fixture has no garbage()`);
        await f.adapter.start(p.ctx);
        await f.startDevices();
        await waitFor(() => p.gate.accepted > 0, 'readings');
        const before = await rejections(p, f.family);
        const bad = await f.garbage();
        expect(bad).toBeGreaterThan(0);
        await waitFor(async () => (await rejections(p, f.family)) - before >= bad, `${bad} rejections counted`);
        expect((await rejections(p, f.family)) - before).toBe(bad);
        const accepted = p.gate.accepted;
        await waitFor(() => p.gate.accepted > accepted, 'good readings after the garbage');
        for (const r of p.drain()) expect(Number.isFinite(r.value)).toBe(true);
      });

    it('holds a bounded number of readings while the buffer does not answer, then recovers when it refuses and accepts again', async () => {
      const { p, f } = await setup();
      await f.adapter.start(p.ctx);
      await f.startDevices();
      await waitFor(() => p.gate.accepted > 0, 'readings');
      p.gate.hold();
      await f.overwhelm();
      expect(p.gate.heldMax).toBeGreaterThan(0);
      expect(p.gate.heldMax).toBeLessThanOrEqual(f.maxHeldReadings);
      // The buffer refuses what was held (a full disk), then accepts again: readings resume.
      p.gate.refuse = true;
      p.gate.release();
      await devicesProgress(f);
      p.gate.refuse = false;
      const accepted = p.gate.accepted;
      await waitFor(() => p.gate.accepted > accepted, 'readings after the buffer accepts again');
      expect(['running', 'degraded']).toContain(f.adapter.status().state);
    });

    if (disappear)
      it('recovers after a device disappears, without a restart', async () => {
        const { p, f } = await setup();
        if (!f.disappear || !f.reappear) throw new Error(`${name}: the fixture has no disappear()/reappear()`);
        await f.adapter.start(p.ctx);
        await f.startDevices();
        await waitFor(() => p.gate.accepted > 0, 'readings');
        await f.disappear!();
        await waitFor(() => f.adapter.status().state === 'degraded', 'status degraded while the device is gone');
        await f.reappear!();
        await f.startDevices();
        const accepted = p.gate.accepted;
        await waitFor(() => p.gate.accepted > accepted, 'readings after the device came back', 30_000);
        await waitFor(() => f.adapter.status().state === 'running', 'status running again');
      });
  });
}
