/**
 * The local alarm echo message: what a ward display subscribed to wardgate/alarms/{bed}
 * receives. Small JSON, no patient identifier.
 */
import type { PendingReading } from '../../reading.js';

/** Bed ids may hold characters that mean something in topics; those become '_'. */
function topicSafe(level: string): string {
  const s = level.replace(/[/+#\0]/g, '_');
  return s.length > 0 ? s : '_';
}

export function alarmTopic(template: string, bed: string): string {
  return template.split('{bed}').join(topicSafe(bed));
}

export interface AlarmMessage {
  bed: string;
  deviceId: string;
  metric: string;
  value: number;
  unit: string;
  gatewayTime: number;
  deviceTime?: number;
  quality?: string[];
  extra?: Readonly<Record<string, string | number | boolean>>;
}

export function alarmPayload(r: PendingReading): Buffer {
  const m: AlarmMessage = { bed: r.bed, deviceId: r.deviceId, metric: r.metric, value: r.value, unit: r.unit, gatewayTime: r.gatewayTime };
  if (r.deviceTime !== undefined) m.deviceTime = r.deviceTime;
  if (r.quality.length > 0) m.quality = [...r.quality];
  if (r.extra !== undefined) m.extra = r.extra;
  return Buffer.from(JSON.stringify(m));
}
