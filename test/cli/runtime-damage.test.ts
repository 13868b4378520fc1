/**
 * Damage found while the shipped command runs: `bin/wardgate.js run` (its V8 flags, Kafka
 * unreachable, an embedded MQTT listener) over a backlog the test wrote; a B-tree page of the
 * vital table goes bad on disk while it runs; the next commit (a reading the test publishes)
 * finds it: that reading is never acknowledged, the process exits 1 (systemd restarts it), and
 * the restart moves the file aside and salvages: every backlog reading not on the bad page is
 * still there, the lost ones are announced, and the test's expectation comes from the rows it
 * saw on that page before damaging it (test/cli/damage-scenario.ts). With a real Kafka for the
 * restart: test/integration/salvage-kafka.test.ts.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBuffer } from '../../src/buffer/index.js';
import { silentLogger } from '../../src/logger.js';
import { Events } from '../../src/metrics/events.js';
import type { Reading } from '../../src/reading.js';
import { ensureBuilt, spawnBin } from '../helpers/bin.js';
import type { CliChild } from '../helpers/gateway.js';
import { BACKLOG, damageWhileRunning, GATEWAY_ID, listening, started } from './damage-scenario.js';

const children: CliChild[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterAll(() => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
});

function drain(buf: Awaited<ReturnType<typeof openBuffer>>): Reading[] {
  const out: Reading[] = [];
  for (;;) {
    const l = buf.lease({ maxReadings: 1000, maxBytes: 1 << 30 });
    if (!l) return out;
    out.push(...l.readings);
    buf.ack(l.id);
  }
}

describe('damage found while the shipped command runs', () => {
  it('a page of the vital table goes bad: the reading that hits it is not acknowledged, exit 1; the restart salvages the rest and announces the ' +
    'loss', async () => {
    const d = await damageWhileRunning(children);
    expect(d.ids.length).toBe(BACKLOG);
    expect(d.lost.size).toBeGreaterThan(0);
    expect(d.code, d.stderr).toBe(1);
    expect(d.acked).toBe(false);
    expect(d.stderr).toMatch(/damaged/);

    // The restart (what systemd's Restart=on-failure does) salvages; it runs, then stops cleanly.
    const second = spawnBin(['run', '--config', d.config()]);
    children.push(second);
    await listening(d.mqttPort, second);
    await started(second);
    second.proc.kill('SIGTERM');
    expect(await second.exited, second.stderr()).toBe(0);

    const log = silentLogger();
    const buf = await openBuffer({ dir: d.data, keyFile: d.keyFile, gatewayId: GATEWAY_ID, events: new Events(log), log });
    const out = drain(buf);
    await buf.close();
    const seqs = out
      .filter((r) => r.metric !== 'gateway_event')
      .map((r) => r.seq)
      .sort((a, b) => a - b);
    expect(seqs).toEqual(d.ids.filter((id) => !d.lost.has(id)));
    const alarm = out.find((r) => r.extra?.event === 'buffer_corrupt');
    expect(alarm?.extra).toMatchObject({ lost: d.lost.size });
  }, 90_000);
});
