/**
 * Monitors report the alarms that are active now, on every record; the gateway sends an
 * alarm when it starts and when it ends. `AlarmEdges` turns "active now" sets into those
 * edges: a reading with extra.state 'on' for each new alarm and 'off' for each that went.
 */
import type { Decoded } from './types.js';

export interface ActiveAlarm {
  /** Stable identity within the device (e.g. source + code). */
  key: string;
  /** The reading to send when it starts; its extra gains state 'on'/'off'. */
  reading: Decoded;
}

export class AlarmEdges {
  private active = new Map<string, Decoded>();

  update(now: readonly ActiveAlarm[]): Decoded[] {
    const out: Decoded[] = [];
    const next = new Map<string, Decoded>();
    for (const a of now) {
      next.set(a.key, a.reading);
      if (!this.active.has(a.key)) out.push({ ...a.reading, extra: { ...a.reading.extra, state: 'on' } });
    }
    for (const [key, r] of this.active) if (!next.has(key)) out.push({ ...r, extra: { ...r.extra, state: 'off' } });
    this.active = next;
    return out;
  }

  reset(): void {
    this.active.clear();
  }
}

/** A technical alarm (sensor off, lead off) as a status reading. */
export function technical(code: string, extra: Record<string, string | number | boolean> = {}): Decoded {
  return { metric: 'gateway_event', value: 1, unit: '1', priorityClass: 'status', extra: { event: 'technical_alarm', code, ...extra } };
}
