/**
 * A serial test rig: a socat pty pair in a temp folder, the serial adapter on its host end
 * (production code, real `serialport`), and the caller's simulated monitor on the device end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PtyPair } from '../../../hardware-mocks/serial/pty.js';
import { SerialAdapter } from '../../../src/devices/serial/adapter.js';
import type { Clock } from '../../../src/devices/serial/backoff.js';
import { type SerialConfigInput, serialConfigSchema } from '../../../src/devices/serial/config.js';

export interface Rig {
  dir: string;
  pairs: PtyPair[];
  adapter: SerialAdapter;
  close(): Promise<void>;
}

export type PortInput = NonNullable<SerialConfigInput['ports']>[number];

/** One pty pair per port; `ports[i].path` is replaced by pair i's host end. */
/** `clock`: the adapter's timers (default the system's); tests inject a manual or warping one. */
export async function serialRig(ports: Omit<PortInput, 'path'>[], extra: Omit<SerialConfigInput, 'ports'> = {}, clock?: Clock): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'wardgate-serial-'));
  const pairs = ports.map((_, i) => new PtyPair(dir, `p${i}`));
  await Promise.all(pairs.map((p) => p.plug()));
  const config = serialConfigSchema.parse({
    retry: { initial: 50, max: 400 },
    ...extra,
    ports: ports.map((p, i) => ({ ...p, path: pairs[i]!.host })),
  });
  const adapter = clock ? new SerialAdapter(config, clock) : new SerialAdapter(config);
  return {
    dir,
    pairs,
    adapter,
    async close() {
      await adapter.stop();
      await Promise.all(pairs.map((p) => p.unplug()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
