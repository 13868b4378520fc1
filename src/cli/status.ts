/** `wardgate status`: what is buffered (read from the database, no key needed) and what the running gateway last said. */
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, readBufferStats } from '../buffer/index.js';
import { PRIORITY_CLASSES } from '../reading.js';
import { readStatusFile, statusFilePath } from '../status-file.js';

/** The gateway writes its status every second; older than this, what it says is no longer current. */
const STALE_MS = 5000;

function age(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.max(0, ms / 1000);
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** Linux's USER_HZ: /proc/PID/stat counts a process's start in these ticks since boot (100 on x86 and ARM). */
const CLOCK_TICKS_PER_S = 100;

/**
 * Whether `pid` is still the gateway that last wrote the status file at `updatedAt`: a wardgate
 * process that started before that write (a pid reused after the gateway died belongs to a
 * process started after its last write). A gateway whose data folder turned read-only (the SD
 * card failing) runs on but can no longer write its status file, which then looks stale.
 */
export function stillRunning(pid: number, updatedAt: number): boolean {
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes('wardgate')) return false;
    // The fields after the command's name (which may hold spaces and parentheses): starttime is the 22nd.
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootS = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootS)) return false;
    return (bootS + startTicks / CLOCK_TICKS_PER_S) * 1000 <= updatedAt + 1000;
  } catch {
    return false; // no such process (or no /proc)
  }
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
  // Fresh: written in the last seconds, so what it says of Kafka is current. Running: fresh, or its
  // process is alive though it could not write the file lately (a read-only card).
  const fresh = live !== null && live.stoppedAt === undefined && now - live.updatedAt < STALE_MS;
  const running = fresh || (live !== null && live.stoppedAt === undefined && stillRunning(live.pid, live.updatedAt));
  const f = live?.forwarder;
  const report = {
    dataDir,
    gatewayId: live?.gatewayId ?? null,
    running,
    /** The running gateway's status file is older than it should be: it cannot write it (see /readyz). */
    statusStale: running && !fresh,
    statusAgeMs: live ? now - live.updatedAt : null,
    kafka: f
      ? {
          state: fresh ? f.state : `unknown (last known: ${f.state})`,
          // Degraded with no failed send: the cluster is short of brokers but acknowledges.
          reachable: fresh ? f.state === 'online' || f.state === 'draining' || (f.state === 'degraded' && f.consecutiveFailures === 0) : null,
          reason: f.reason,
          brokers: live!.brokers,
          cluster: f.cluster ?? null,
          configError: f.configError,
          offlineForMs: fresh && f.offlineSince !== null ? now - f.offlineSince : null,
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
      (fresh
        ? `running (pid ${live!.pid})`
        : running
          ? `running (pid ${live!.pid}), but its status file was last written ${age(report.statusAgeMs)} ago: it cannot write ` +
            'its data folder (read-only or full?); its /readyz says why'
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
    if (fresh) {
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
