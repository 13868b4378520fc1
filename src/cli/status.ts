/** `wardgate status`: what is buffered (read from the database, no key needed) and what the running gateway last said. */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, readBufferStats } from '../buffer/index.js';
import { PRIORITY_CLASSES } from '../reading.js';
import { readStatusFile, statusFilePath } from '../status-file.js';

/** The gateway writes its status every second; older than this means it is not running. */
const STALE_MS = 5000;

function age(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.max(0, ms / 1000);
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Why this user cannot read the data folder (or its buffer), or null when it can (or the folder does not exist). */
function unreadable(dataDir: string): string | null {
  const who = typeof process.getuid === 'function' ? ` as uid ${process.getuid()}` : '';
  let owner = '';
  try {
    owner = ` (owned by uid ${statSync(dataDir).uid})`;
    accessSync(dataDir, fsConstants.R_OK | fsConstants.X_OK);
    const db = join(dataDir, DB_FILE);
    if (existsSyncStrict(db)) accessSync(db, fsConstants.R_OK);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOENT') return null;
    return `cannot read the data folder ${dataDir}${owner}${who} (${code}): run status as the service user, e.g. sudo -u <service user> wardgate status`;
  }
}

function existsSyncStrict(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

export function statusCommand(
  dataDir: string,
  keyFile: string,
  json: boolean,
  out: NodeJS.WritableStream,
  statusFile: string = statusFilePath(dataDir),
): number {
  const now = Date.now();
  const denied = unreadable(dataDir);
  if (denied !== null) {
    // Not "no buffer": there may well be one this user cannot see.
    if (json) out.write(`${JSON.stringify({ dataDir, readable: false, error: denied }, null, 2)}\n`);
    else out.write(`data folder      ${dataDir}\nbuffer           ${denied}\n`);
    return 2;
  }
  // With the key file readable, the notes also name retired keys that no unit uses any more.
  const buffer = readBufferStats(dataDir, { keyFile });
  const live = readStatusFile(statusFile);
  const running = live !== null && live.stoppedAt === undefined && now - live.updatedAt < STALE_MS;
  const f = live?.forwarder;
  const report = {
    dataDir,
    gatewayId: live?.gatewayId ?? null,
    running,
    statusAgeMs: live ? now - live.updatedAt : null,
    kafka: f
      ? {
          state: running ? f.state : `unknown (last known: ${f.state})`,
          // Degraded with no failed send: the cluster is short of brokers but acknowledges.
          reachable: running ? f.state === 'online' || f.state === 'draining' || (f.state === 'degraded' && f.consecutiveFailures === 0) : null,
          reason: f.reason,
          brokers: live!.brokers,
          cluster: f.cluster ?? null,
          configError: f.configError,
          offlineForMs: running && f.offlineSince !== null ? now - f.offlineSince : null,
          inFlight: f.inFlight,
          drainRate: f.drainRate ?? null,
          consecutiveFailures: f.consecutiveFailures,
          nextRetryAt: f.retryAt ? new Date(f.retryAt).toISOString() : null,
          unknownFate: f.unknownFate ?? null,
          rateCap: f.rateCap ?? null,
        }
      : null,
    lastSuccessfulForward: f?.lastSuccessAt ? new Date(f.lastSuccessAt).toISOString() : null,
    lastSuccessfulForwardAgeMs: f?.lastSuccessAt ? now - f.lastSuccessAt : null,
    forwardedSinceStart: f?.forwarded ?? null,
    buffer,
  };
  if (json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
    return buffer === null ? 1 : 0;
  }
  const lines: string[] = [];
  lines.push(`data folder      ${dataDir}`);
  lines.push(
    `gateway          ${report.gatewayId ?? '(unknown)'} — ` +
      (running
        ? `running (pid ${live!.pid})`
        : live
          ? `not running (${live.stoppedAt !== undefined ? 'stopped cleanly' : 'last status'} ${age(report.statusAgeMs)} ago)`
          : 'never ran here'),
  );
  if (report.kafka) {
    const kafka = report.kafka;
    lines.push(
      `kafka            ${kafka.state}${kafka.reachable === null ? '' : kafka.reachable ? ' (reachable)' : ' (NOT reachable)'} — ` +
        `${kafka.reason} [${kafka.brokers.join(',')}]`,
    );
    if (running) {
      const parts = [`in flight ${kafka.inFlight}`, `drain ${kafka.drainRate ?? 0} readings/s`];
      if (kafka.offlineForMs !== null) parts.push(`offline for ${age(kafka.offlineForMs)}`);
      if (kafka.consecutiveFailures > 0) parts.push(`${kafka.consecutiveFailures} failed attempts${kafka.nextRetryAt ? `, next at ${kafka.nextRetryAt}` : ''}`);
      if (kafka.rateCap) {
        const cap = [
          kafka.rateCap.readingsPerSecond !== null ? `${kafka.rateCap.readingsPerSecond} readings/s` : '',
          kafka.rateCap.bytesPerSecond !== null ? `${kafka.rateCap.bytesPerSecond} B/s` : '',
        ]
          .filter(Boolean)
          .join(', ');
        parts.push(`rate cap ${cap}${kafka.rateCap.limiting ? ' (holding back now)' : ''}`);
      }
      if (kafka.unknownFate) parts.push(`${kafka.unknownFate} readings re-sent after an unknown outcome (possible duplicates)`);
      lines.push(`forwarder        ${parts.join(', ')}`);
    }
  }
  lines.push(`last forward     ${report.lastSuccessfulForward ? `${report.lastSuccessfulForward} (${age(report.lastSuccessfulForwardAgeMs)} ago)` : 'never'}`);
  if (!buffer) {
    lines.push('buffer           no buffer database in this folder');
  } else {
    lines.push(`buffer           ${buffer.totalReadings} readings, ${(buffer.diskBytes / 1024 / 1024).toFixed(2)} MiB on disk`);
    for (const p of PRIORITY_CLASSES) {
      const c = buffer.perClass[p];
      lines.push(
        `  ${p.padEnd(9)}      ${String(c.readings).padStart(9)} readings   oldest ` +
          `${c.oldestGatewayTime === null ? '-' : `${age(now - c.oldestGatewayTime)} old`}`,
      );
    }
    for (const extra of buffer.notes ?? []) lines.push(`note             ${extra}`);
  }
  out.write(`${lines.join('\n')}\n`);
  return buffer === null ? 1 : 0;
}
