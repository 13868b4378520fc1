import { describe, expect, it } from 'vitest';
import { Pump } from '../../src/forwarder/pump.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('forwarder pump scheduling', () => {
  it('coalesces soon() calls into one run, never re-enters, runs nothing while disabled', async () => {
    let runs = 0;
    let enabled = false;
    const p: Pump = new Pump(
      () => {
        runs++;
        p.run(); // re-entry is ignored
      },
      () => enabled,
      Date.now,
    );
    p.soon();
    await tick();
    expect(runs).toBe(0);
    enabled = true;
    p.soon();
    p.soon();
    p.soon();
    await tick();
    expect(runs).toBe(1);
    p.run();
    expect(runs).toBe(2);
  });

  it('keeps only the earliest time, and runs nothing after stop', async () => {
    let runs = 0;
    const p = new Pump(
      () => runs++,
      () => true,
      Date.now,
    );
    p.at(Date.now() + 20);
    p.at(Date.now() + 10_000); // later than the one pending: ignored
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(1);
    p.at(Date.now() + 20);
    p.stop();
    p.at(Date.now() + 1);
    await new Promise((r) => setTimeout(r, 60));
    expect(runs).toBe(1);
  });
});
