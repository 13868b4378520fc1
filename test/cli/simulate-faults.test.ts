/**
 * `wardgate simulate --monitors intellivue:1 --unplug 2s@2s --garbage 2s@5s` (real socat ptys,
 * Kafka down): the monitor's cable is pulled and plugged back, then noise is written on its line.
 * Observed by the test: the gateway's log names the lost port and the rejected frames, and the
 * buffer file (read while the process runs) grows again after the cable is back.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { committedSeq, spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

describe('simulate scripted device faults', () => {
  it('an unplugged monitor is noticed and read again once plugged back; garbage on its line is rejected and counted, never fatal', async () => {
    const dir = tempDir();
    const data = join(dir, 'data');
    const cfg = join(dir, 'wardgate.yaml');
    writeFileSync(cfg, `gateway:\n  dataDir: ${data}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog: { level: warn }\n`);
    const c = spawnCli([
      'simulate',
      '-c',
      cfg,
      '--monitors',
      'intellivue:1',
      '--duration',
      '9s',
      '--drain-timeout',
      '1s',
      '--no-live',
      '--unplug',
      '2s@2s',
      '--garbage',
      '2s@5s',
    ]);
    const seq = (): number => committedSeq(data);
    await waitFor(() => c.stdout().includes('plugged back in') || c.proc.exitCode !== null, 30_000, 'the cable back');
    const atReplug = seq();
    await waitFor(() => seq() > atReplug + 5 || c.proc.exitCode !== null, 30_000, 'readings again after the replug');
    expect(seq()).toBeGreaterThan(atReplug + 5);
    expect(await c.exited, c.stderr()).toBe(0);
    const out = c.stdout();
    expect(out).toMatch(/fault: monitor sim-intellivue-1 \(SER-01\) cable unplugged for 2 s/);
    expect(out).toContain("fault: garbage on monitor sim-intellivue-1's line for 2 s");
    expect(out).toMatch(/summary: gateway \S+: \d+ readings committed/);
    const events = c
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event?: string; reason?: string; family?: string });
    expect(events.some((e) => e.event === 'device_error' && e.family === 'serial' && e.reason === 'disconnected')).toBe(true);
    expect(events.some((e) => e.event === 'frame_rejected' && e.family === 'serial' && e.reason?.startsWith('intellivue_'))).toBe(true);
  }, 60_000);

  it('--unplug without --monitors is a usage error (exit 2)', async () => {
    const c = spawnCli(['simulate', '--unplug', '2s@2s', '--duration', '1s']);
    expect(await c.exited).toBe(2);
    expect(c.stderr()).toContain('add --monitors');
  });
});
