/**
 * The device seam: simulated hardware enters src/ only through the simulator family's
 * dynamic import, and per-reading consumers are a list of receivers registered at start-up.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReadingReceiver } from '../../src/devices/types.js';
import { Ingest } from '../../src/ingest.js';
import type { PendingReading, ReadingInput } from '../../src/reading.js';
import { filesUnder } from '../helpers/files.js';
import { pipeline } from './pipeline.js';

/** The only places that may load simulated hardware, on demand (the CLI: `simulate --monitors`, `--wearables`). */
const DYNAMIC = [join('src', 'devices', 'simulator', 'adapter.ts'), join('src', 'cli', 'main.ts')];

describe('device seam', () => {
  it('nothing in src/ imports hardware-mocks/ statically; the simulator family and `simulate --monitors` load it with dynamic imports', () => {
    const offenders: string[] = [];
    const dynamic = new Set<string>();
    for (const f of filesUnder('src', '.ts')) {
      const text = readFileSync(f, 'utf8');
      for (const line of text.split('\n')) {
        if (!line.includes('hardware-mocks/')) continue;
        if (/^\s*import type /.test(line) || /^\s*(\*|\/\/)/.test(line)) continue;
        if (/await import\(/.test(line) && DYNAMIC.includes(f)) dynamic.add(f);
        else offenders.push(`${f}: ${line.trim()}`);
      }
    }
    expect(offenders).toEqual([]);
    expect([...dynamic].sort()).toEqual([...DYNAMIC].sort());
  });

  it('each receiver hears the committed readings of its classes only; one that throws is counted, not fatal', async () => {
    const p = await pipeline();
    try {
      const heard: string[] = [];
      const receivers: ReadingReceiver[] = [
        { name: 'alarms', classes: ['alarm'], receive: (r: PendingReading) => heard.push(`alarm:${r.metric}`) },
        { name: 'status', classes: ['status'], receive: (r: PendingReading) => heard.push(`status:${r.metric}`) },
        {
          name: 'broken',
          classes: ['alarm'],
          receive: () => {
            throw new Error('display gone');
          },
        },
      ];
      const ingest = new Ingest(p.buffer, p.events, { clockSkewToleranceMs: 1e12, receivers });
      const base = { deviceId: 'd1', deviceKind: 'serial', bed: 'b1' } as const;
      const inputs: ReadingInput[] = [
        { ...base, metric: 'spo2', value: 97, unit: '%' },
        { ...base, metric: 'spo2', value: 84, unit: '%', priorityClass: 'alarm' },
        { ...base, metric: 'battery_level', value: 50, unit: '%', priorityClass: 'status' },
        { ...base, metric: 'heart_rate', value: 150, unit: '/min', priorityClass: 'alarm' },
      ];
      await ingest.submit(inputs);
      expect(heard).toEqual(['alarm:spo2', 'status:battery_level', 'alarm:heart_rate']);
      expect(await p.events.count('device_error', { family: 'broken', reason: 'receiver_threw' })).toBe(2);
    } finally {
      await p.close();
    }
  });
});
