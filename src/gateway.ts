/**
 * The composition root: data folder, gateway id, key, buffer, ingest pipeline, device
 * adapters, forwarder, status and metrics. `startGateway` returns a handle to stop it.
 */
import { accessSync, constants as fsConstants, mkdirSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { AuditLog } from './audit/log.js';
import { auditEvents, auditSafely, configDigest } from './audit/record.js';
import { gatewayIdentity } from './buffer/gateway-id.js';
import { openBuffer, releaseBallastIfShort, type SqliteBuffer } from './buffer/index.js';
import type { ReadingBuffer } from './buffer/types.js';
import type { Config } from './config/schema.js';
import { checkTlsKeyFiles } from './config/secrets.js';
import { describeKeyFile, generateKeyFile, KeyFileError } from './crypto/keys.js';
import { createAdapters, FAMILIES } from './devices/registry.js';
import type { DeviceAdapter } from './devices/types.js';
import { ConfigurationError, errorCode, isConfigFsError } from './errors.js';
import { createKafkaClient, forwarderSettings } from './forwarder/clients.js';
import { Forwarder, type ForwarderOptions } from './forwarder/forwarder.js';
import { WorkerKafkaClient } from './forwarder/worker-client.js';
import { Ingest } from './ingest.js';
import type { Logger } from './logger.js';
import { CertificateWatch, certificateFiles } from './metrics/certificates.js';
import { ClockWatch } from './metrics/clock.js';
import { Events } from './metrics/events.js';
import { assessHealth, assessReadiness, HEALTH_CHECKS, type HealthCheck, type HealthCheckName, healthGauges } from './metrics/health.js';
import { LoopDelay } from './metrics/loop-delay.js';
import { startMetricsServer } from './metrics/server.js';
import { PRIORITY_CLASSES } from './reading.js';
import { type LiveStatus, type ReloadStatus, statusFilePath, writeStatusFile } from './status-file.js';
import { steadyNow } from './steady-clock.js';

/**
 * How often the event-loop delay is sampled (src/metrics/loop-delay.ts). Its timer wakes the
 * process this often whatever else happens: at 20 ms it was 50 wake-ups a second, about a tenth
 * of `wardgate simulate --beds 30`'s CPU (bench/simulate.ts). A stall of S ms shows as at least
 * S - 100 ms, so every stall that matters to the watchdog and the health checks is seen.
 */
const LOOP_DELAY_PERIOD_MS = 100;

export interface GatewayOptions {
  mode: 'run' | 'simulate';
  log: Logger;
  /** Create the key file when missing (simulate); `run` refuses to start without one. */
  createKeyIfMissing?: boolean;
  /** Called after Kafka acknowledged a batch (latency measurements in tests and benchmarks). */
  onForwarderAck?: ForwarderOptions['onAck'];
}

export interface Gateway {
  readonly gatewayId: string;
  readonly dataDir: string;
  readonly buffer: ReadingBuffer;
  readonly forwarder: Forwarder;
  readonly events: Events;
  readonly ingest: Ingest;
  readonly adapters: readonly DeviceAdapter[];
  /**
   * SIGHUP: applies what can change while running (src/cli/reload.ts says which settings): the
   * device families whose configuration differs (or whose MQTT users file may have) are
   * reconfigured in place or stopped and started again, others untouched; the Kafka topics per
   * class go to the forwarder. Never rejects: a family that cannot start with its new settings
   * is started again with its old ones and named in `failed`.
   */
  reload(next: Config): Promise<GatewayReload>;
  /** The outcome of the last reload, shown in /status and the status file. */
  noteReload(s: ReloadStatus): void;
  /**
   * Stops the devices (no new readings), lets the forwarder drain for up to drainTimeoutMs, then
   * stops. With `whileConnected`, the drain also ends as soon as the forwarder is not connected or
   * a send fails (a stop's grace: Kafka down or stalled does not hold the stop). Returns true when drained.
   */
  stop(drainTimeoutMs?: number, opts?: { whileConnected?: boolean }): Promise<boolean>;
  live(): LiveStatus;
  /**
   * Resolves with the reason when the gateway can no longer do its work and must be stopped:
   * the buffer database turned out damaged while running (the next start moves it aside and
   * salvages what still authenticates). Never rejects.
   */
  readonly failed: Promise<string>;
}

export interface GatewayReload {
  /** Families changed in place (connections kept), e.g. MQTT rules and users, serial ports. */
  reconfigured: string[];
  /** Families whose adapters were stopped and started with the new settings. */
  restarted: string[];
  /** Families that kept (or went back to) their old settings, and why. */
  failed: { family: string; error: string }[];
  /** The device settings now running (the new ones, except the families that failed). */
  devices: Config['devices'];
  /** The Kafka topics per class changed. */
  topics: boolean;
}

export function keyFileFor(config: Config): string {
  return resolve(config.buffer.keyFile ?? join(config.gateway.dataDir, 'wardgate.key'));
}

export async function startGateway(config: Config, opts: GatewayOptions): Promise<Gateway> {
  const log = opts.log;
  const dataDir = resolve(config.gateway.dataDir);
  checkTlsKeyFiles(config); // TLS private keys: readable by the service user only, like the data key file (exit 2 otherwise)
  prepareDataDir(dataDir);
  // A full disk: the buffer's reserve is given back before anything is written here (the audit log first).
  const reserveGivenBack = releaseBallastIfShort(dataDir, log.child({ module: 'buffer' })) > 0;
  // Security events, hash-chained (src/audit): start, configuration, key creation, stop, and the
  // login/ACL/quarantine/eviction events as they are logged.
  const audit = AuditLog.forDataDir(dataDir);
  auditSafely(audit, log, 'start', { mode: opts.mode, pid: process.pid });
  auditSafely(audit, log, 'config_loaded', { sha256: configDigest(config) });
  const keyFile = keyFileFor(config);
  if (!keyFileExists(keyFile)) {
    if (!opts.createKeyIfMissing) throw new KeyFileError(`key file ${keyFile} does not exist: create one with \`wardgate keygen --key-file ${keyFile}\``);
    const created = generateKeyFile(keyFile);
    log.info({ keyFile }, 'created a new data key file');
    auditSafely(audit, log, 'key_created', { keyFile, activeKeyId: created.activeKeyId });
  }
  reportUnusedSecrets(config, keyFile, log);
  const identity = inDataDir(dataDir, () => gatewayIdentity(dataDir, config.gateway.id));
  const gatewayId = identity.id;
  if (identity.replaced) {
    log.warn(
      { dataDir, gatewayId, previousGatewayId: identity.replaced },
      'this data folder was made on another machine (a copied SD card image?): a new gateway id for the readings from now on, so that ' +
        "consumers do not drop this gateway's readings as duplicates of the other's; what the buffer holds keeps its id",
    );
    auditSafely(audit, log, 'gateway_id_replaced', { gatewayId, previousGatewayId: identity.replaced });
  } else if (identity.configuredFromElsewhere) {
    log.warn(
      { dataDir, gatewayId },
      'this data folder was made on another machine (a copied SD card image?) and gateway.id is configured: if the other machine runs ' +
        "too, give each its own gateway.id, or consumers drop one's readings as duplicates of the other's",
    );
    auditSafely(audit, log, 'gateway_moved', { gatewayId });
  }
  const events = new Events(log.child({ module: 'events' }));
  auditEvents(audit, events, log);
  const buffer = await inDataDir(dataDir, () =>
    openBuffer({
      dir: dataDir,
      keyFile,
      gatewayId,
      cipher: config.buffer.cipher,
      commitIntervalMs: config.buffer.commitInterval,
      commitMaxDelayMs: config.buffer.commitMaxDelay,
      alarmCommitIntervalMs: config.buffer.alarmCommitInterval,
      commitMaxReadings: config.buffer.commitMaxReadings,
      synchronous: config.buffer.synchronous,
      integrityCheck: config.buffer.integrityCheck,
      maxBytes: config.buffer.maxBytes,
      maxAgeMs: config.buffer.maxAge,
      reserveGivenBack,
      events,
      log: log.child({ module: 'buffer' }),
    }),
  );
  // From here on a failed start stops what it started (newest first) and rethrows: no
  // half-started gateway keeps the buffer lock, a port or a Kafka connection.
  const undo = new Undo(log);
  undo.push(() => buffer.close());
  try {
    return await startParts(config, opts, dataDir, gatewayId, events, buffer, undo, audit);
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, 'start failed; stopping what had started');
    await undo.run();
    throw e;
  }
}

/** Stop actions of what has started, run newest first when the start fails. */
class Undo {
  private readonly steps: (() => unknown)[] = [];
  constructor(private readonly log: Logger) {}
  push(step: () => unknown): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (e) {
        this.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'stopping after a failed start');
      }
    }
  }
}

/** Whether the key file exists; a file this user cannot even look at is a configuration error, not "missing". */
function keyFileExists(keyFile: string): boolean {
  try {
    statSync(keyFile);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw new KeyFileError(`cannot read key file ${keyFile} (${errorCode(e) ?? 'error'})`);
  }
}

/** Creates the data folder (mode 0700) and checks this user may use it; a configuration error otherwise. */
function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    accessSync(dataDir, fsConstants.R_OK | fsConstants.W_OK | fsConstants.X_OK);
  } catch (e) {
    throw new ConfigurationError(
      `data folder ${dataDir} cannot be used by this user${process.getuid ? ` (uid ${process.getuid()})` : ''}: ${errorCode(e) ?? (e as Error).message}`,
    );
  }
}

/** Runs a step on the data folder; a permission or path problem becomes a configuration error naming the folder. */
function inDataDir<T>(dataDir: string, step: () => T): T {
  const wrap = (e: unknown): never => {
    const c = errorCode(e);
    if (isConfigFsError(e) || c === 'SQLITE_CANTOPEN' || c === 'SQLITE_PERM' || c?.startsWith('SQLITE_READONLY')) {
      throw new ConfigurationError(`cannot use the data folder ${dataDir}: ${c}${c?.startsWith('SQLITE') ? ` (${(e as Error).message})` : ''}`);
    }
    throw e;
  };
  try {
    const r = step();
    return (r instanceof Promise ? r.catch(wrap) : r) as T;
  } catch (e) {
    return wrap(e);
  }
}

/** A secret in the environment that nothing uses is said at start (never its value). */
function reportUnusedSecrets(config: Config, keyFile: string, log: Logger, env: NodeJS.ProcessEnv = process.env): void {
  if (env.WARDGATE_KAFKA_PASSWORD && !config.kafka.sasl) {
    log.warn('WARDGATE_KAFKA_PASSWORD is set but kafka.sasl is not configured: the password is not used (add a kafka.sasl block with mechanism and username)');
  }
  if (env.WARDGATE_KEY_PASSPHRASE || env.WARDGATE_KEY_SECRET_FILE) {
    const protection = describeKeyFile(keyFile).protection;
    if (protection === 'none')
      log.warn(
        { keyFile },
        'WARDGATE_KEY_PASSPHRASE / WARDGATE_KEY_SECRET_FILE is set but the key file is not wrapped: it is not used (see the README, key protection)',
      );
  }
}

async function startParts(
  config: Config,
  opts: GatewayOptions,
  dataDir: string,
  gatewayId: string,
  events: Events,
  buffer: SqliteBuffer,
  undo: Undo,
  audit: AuditLog,
): Promise<Gateway> {
  const log = opts.log;
  // Adapters are created (not started) first: their per-reading consumers (e.g. the alarm echo on
  // the embedded MQTT broker, wardgate/alarms/{bed}) are registered with the pipeline at start-up.
  // Changed in place by a reload (live() and the gauges read it).
  const adapters: DeviceAdapter[] = createAdapters(config.devices);
  const ingest = new Ingest(buffer, events, {
    clockSkewToleranceMs: config.gateway.clockSkewTolerance,
    receivers: adapters.flatMap((a) => a.receivers?.() ?? []),
  });
  const familiesSeen = new Set(adapters.map((a) => a.family));
  const kafkaSettings = config.kafka;
  const client = kafkaSettings.clientThread
    ? new WorkerKafkaClient(kafkaSettings, { logLevel: config.log.level, lane: 'bulk', log: log.child({ module: 'kafka', lane: 'bulk' }) })
    : createKafkaClient(kafkaSettings, log.child({ module: 'kafka', lane: 'bulk' }));
  const { clampedFrom, ...settings } = forwarderSettings(kafkaSettings);
  const forwarder = new Forwarder(
    buffer,
    client,
    {
      ...settings,
      ...(kafkaSettings.alarmLane ? { alarmClient: createKafkaClient(kafkaSettings, log.child({ module: 'kafka', lane: 'alarm' })) } : {}),
      ...(opts.onForwarderAck ? { onAck: opts.onForwarderAck } : {}),
    },
    events,
    log.child({ module: 'forwarder' }),
  );
  forwarder.start();
  undo.push(() => forwarder.stop());
  if (clampedFrom !== undefined) {
    log.warn(
      { configured: clampedFrom, used: settings.batchMaxBytes, heapLimit: getHeapStatistics().heap_size_limit },
      'kafka.batch.maxBytes is more than the JavaScript heap can carry in flight; using the lower bound (raise --max-old-space-size in bin/wardgate.js ' +
        'to allow more)',
    );
  }

  const ctx = { sink: ingest, events, log: log.child({ module: 'devices' }), dataDir };
  for (const a of adapters) {
    undo.push(() => a.stop());
    await a.start({ ...ctx, log: ctx.log.child({ family: a.family }) });
  }

  const startedAt = Date.now();
  const startedSteady = steadyNow();
  let lastIngested = 0;
  let lastAt = steadyNow();
  let rate = 0;
  const live = (): LiveStatus => ({
    pid: process.pid,
    gatewayId,
    startedAt,
    updatedAt: Date.now(),
    mode: opts.mode,
    brokers: kafkaSettings.brokers,
    forwarder: forwarder.status(),
    ingestedTotal: ingest.committed,
    readingsPerSecond: rate,
    adapters: adapters.map((a) => ({ family: a.family, ...a.status() })),
    ...(lastReload ? { lastReload } : {}),
  });
  let lastReload: ReloadStatus | undefined;
  const statusPath = statusFilePath(dataDir, config.gateway.statusFile);
  let stoppedAt: number | undefined;
  // Health states with their thresholds (src/metrics/health.ts): /status, /readyz and metrics.
  const thresholds = config.health;
  const hg = healthGauges(events.registry);
  const thresholdOf: Record<HealthCheckName, number> = {
    kafka_unreachable: thresholds.kafkaOffline / 1000,
    oldest_unsent: thresholds.oldestUnsent / 1000,
    buffer_near_cap: thresholds.bufferNearCap,
    certificate_expiry: thresholds.certificateExpiry / 1000,
  };
  for (const c of HEALTH_CHECKS) hg.threshold.set({ check: c }, thresholdOf[c]);
  // The TLS certificate files, read now and every hour (certificate_expiry).
  const certificates = new CertificateWatch(certificateFiles(config), {
    log: log.child({ module: 'certificates' }),
    gauge: hg.certificateEnd,
    thresholdMs: thresholds.certificateExpiry,
  });
  certificates.start();
  hg.capBytes.set(buffer.maxBytes);
  const loopDelay = new LoopDelay(LOOP_DELAY_PERIOD_MS);
  loopDelay.start();
  let bufferOpen = true;
  let damaged = false;
  buffer.onDamaged(() => {
    damaged = true;
  });
  const readiness = () => assessReadiness({ open: bufferOpen, damaged, shedding: buffer.isShedding, commitFailure: buffer.commitFailure });
  let checks: Record<HealthCheckName, HealthCheck> | null = null;
  // Clock jumps (every tick) and synchronisation (every minute): log, metrics, /status.
  const clock = new ClockWatch({ log: log.child({ module: 'clock' }), registry: events.registry });
  void clock.probeSync();
  const clockTimer = setInterval(() => void clock.probeSync(), 60_000);
  clockTimer.unref();
  const tick = (): void => {
    const now = Date.now();
    const at = steadyNow();
    const total = ingest.committed;
    rate = at > lastAt ? ((total - lastIngested) * 1000) / (at - lastAt) : 0;
    lastIngested = total;
    lastAt = at;
    const s = buffer.stats();
    for (const p of PRIORITY_CLASSES) {
      const c = s.perClass[p];
      events.gauges.bufferReadings.set({ class: p }, c.readings);
      events.gauges.bufferBytes.set({ class: p }, c.bytes);
      events.gauges.oldestUnsentAgeSeconds.set({ class: p }, c.oldestGatewayTime === null ? 0 : (now - c.oldestGatewayTime) / 1000);
    }
    clock.check();
    const storedBytes = buffer.totalStoredBytes();
    checks = assessHealth(
      { now, forwarder: forwarder.status(), buffer: s, storedBytes, maxBytes: buffer.maxBytes, certificates: certificates.states },
      thresholds,
    );
    for (const c of HEALTH_CHECKS) hg.alert.set({ check: c }, checks[c].state === 'alert' ? 1 : 0);
    hg.fill.set(buffer.maxBytes > 0 ? storedBytes / buffer.maxBytes : 0);
    hg.ready.set(readiness().ok ? 1 : 0);
    for (const f of familiesSeen)
      hg.devices.set(
        { family: f },
        adapters.filter((a) => a.family === f).reduce((n, a) => n + a.status().devices, 0),
      );
    hg.loopDelay.set(loopDelay.take());
    try {
      writeStatusFile(statusPath, stoppedAt === undefined ? live() : { ...live(), stoppedAt });
    } catch (e) {
      events.emit('device_error', { family: 'gateway', reason: 'status_file' }, 1, { error: String(e) });
    }
  };
  tick();
  const statusTimer = setInterval(tick, 1000);
  undo.push(() => {
    clearInterval(statusTimer);
    clearInterval(clockTimer);
    certificates.stop();
    clock.stop();
    loopDelay.stop();
    stoppedAt = Date.now();
    tick();
  });

  let metricsServer: Server | null = null;
  if (config.metrics.port !== undefined) {
    metricsServer = await startMetricsServer(
      events.registry,
      {
        // Alive: this answer comes from the event loop. Kafka's state is in /status and the metrics, never here.
        health: () => ({
          ok: true,
          detail: { pid: process.pid, uptimeSeconds: (steadyNow() - startedSteady) / 1000, eventLoopDelayMaxSeconds: loopDelay.peek() },
        }),
        ready: () => {
          const r = readiness();
          return { ok: r.ok, detail: { reason: r.reason } };
        },
        status: () => {
          const alert = checks !== null && Object.values(checks).some((c) => c.state === 'alert');
          return { ...live(), ready: readiness(), health: { state: alert ? 'alert' : 'ok', checks: checks ?? {} }, clock: clock.status };
        },
      },
      config.metrics.host,
      config.metrics.port,
    );
  }
  log.info({ gatewayId, dataDir, brokers: kafkaSettings.brokers, adapters: adapters.map((a) => a.family) }, 'wardgate started');

  let stopped: Promise<boolean> | null = null;
  let devices = config.devices;
  let kafkaConfig = kafkaSettings;
  const reload = async (next: Config): Promise<GatewayReload> => {
    const out: GatewayReload = { reconfigured: [], restarted: [], failed: [], devices, topics: false };
    if (stopped) return out;
    const effective: Record<string, unknown> = { ...devices };
    for (const name of Object.keys(FAMILIES) as (keyof Config['devices'])[]) {
      const before = devices[name];
      const after = next.devices[name];
      const changed = JSON.stringify(before) !== JSON.stringify(after);
      // The MQTT users file is read again on every reload, changed or not.
      const usersFile = name === 'mqtt' && next.devices.mqtt?.embedded?.auth.usersFile !== undefined;
      if (!changed && !usersFile) continue;
      const mine = adapters.filter((a) => a.family === name);
      try {
        if (mine.length === 1 && mine[0]!.reconfigure && (await mine[0]!.reconfigure(after))) {
          if (changed) out.reconfigured.push(name);
          effective[name] = after;
          continue;
        }
      } catch (e) {
        out.failed.push({ family: name, error: e instanceof Error ? e.message : String(e) });
        continue;
      }
      if (!changed) continue;
      const swapped = await swapFamily(name, mine, after);
      if (swapped === null) {
        out.restarted.push(name);
        effective[name] = after;
      } else {
        out.failed.push({ family: name, error: swapped });
        // Back to the settings it ran with.
        const restored = await swapFamily(name, [], before);
        if (restored !== null)
          log.error({ family: name, error: restored }, 'reload: the device family could not be started again with its old settings either');
      }
    }
    devices = effective as Config['devices'];
    out.devices = devices;
    certificates.setFiles(certificateFiles({ ...config, devices }));
    ingest.setReceivers(adapters.flatMap((a) => a.receivers?.() ?? []));
    const routing = forwarderSettings(next.kafka).routing;
    if (JSON.stringify(routing) !== JSON.stringify(forwarderSettings(kafkaConfig).routing)) {
      kafkaConfig = next.kafka;
      forwarder.setRouting(routing);
      out.topics = true;
    }
    return out;
  };
  /** Stops `old` (already removed adapters may be passed empty) and starts the family from `cfg`; null when started, else why not. */
  const swapFamily = async (name: keyof Config['devices'], old: DeviceAdapter[], cfg: unknown): Promise<string | null> => {
    for (const a of old) {
      await a.stop().catch((e) => log.warn({ family: a.family, err: String(e) }, 'adapter stop failed'));
      adapters.splice(adapters.indexOf(a), 1);
    }
    const fresh = cfg === undefined ? [] : (FAMILIES[name] as (c: unknown) => DeviceAdapter[])(cfg);
    for (const a of fresh) {
      try {
        await a.start({ ...ctx, log: ctx.log.child({ family: a.family }) });
      } catch (e) {
        await a.stop().catch(() => undefined);
        for (const b of fresh) if (adapters.includes(b)) await b.stop().catch(() => undefined);
        for (const b of fresh) if (adapters.includes(b)) adapters.splice(adapters.indexOf(b), 1);
        return e instanceof Error ? e.message : String(e);
      }
      adapters.push(a);
      familiesSeen.add(a.family);
    }
    return null;
  };
  let hurry = false;
  /** Waits for the drain like forwarder.drained(), in short slices, so that a stop without a drain can cut it short. */
  const drainFor = async (ms: number, whileConnected: boolean): Promise<boolean> => {
    const deadline = steadyNow() + ms;
    const failures = forwarder.failures;
    for (;;) {
      // A grace, not a drain: it ends when Kafka is not connected or a send fails (the retry would wait out the grace).
      if (whileConnected && (!forwarder.connected || forwarder.failures !== failures)) return buffer.stats().totalReadings === 0;
      if (await forwarder.drained(Math.max(0, Math.min(250, deadline - steadyNow())))) return true;
      if (hurry || steadyNow() >= deadline) return false;
    }
  };
  const stop = (drainTimeoutMs = 0, opts: { whileConnected?: boolean } = {}): Promise<boolean> => {
    // A stop without a drain while a drain runs (the CLI's second signal) ends the drain now.
    if (drainTimeoutMs <= 0) hurry = true;
    stopped ??= (async () => {
      for (const a of adapters) await a.stop().catch((e) => log.warn({ family: a.family, err: String(e) }, 'adapter stop failed'));
      await buffer.flush().catch(() => undefined);
      const drained = drainTimeoutMs > 0 ? await drainFor(drainTimeoutMs, opts.whileConnected === true) : buffer.stats().totalReadings === 0;
      await forwarder.stop();
      clearInterval(statusTimer);
      stoppedAt = Date.now();
      tick();
      if (metricsServer) await new Promise((r) => metricsServer!.close(() => r(undefined)));
      bufferOpen = false;
      clearInterval(clockTimer);
      certificates.stop();
      clock.stop();
      loopDelay.stop();
      await buffer.close();
      auditSafely(audit, log, 'stop', { drained });
      log.info({ drained, auditHead: audit.head }, 'wardgate stopped');
      return drained;
    })();
    return stopped;
  };

  const failed = new Promise<string>((resolveFailed) => {
    buffer.onDamaged((reason) =>
      resolveFailed(`the buffer database is damaged (${reason.split(':')[0]}): stopping, so that the next start moves it aside and salvages it`),
    );
  });
  const noteReload = (r: ReloadStatus): void => {
    lastReload = r;
    // At once, not at the next tick: `wardgate reload` (systemctl reload) waits for this answer.
    try {
      writeStatusFile(statusPath, live());
    } catch {
      // The next tick writes it (and reports a failure).
    }
  };
  return { gatewayId, dataDir, buffer, forwarder, events, ingest, adapters, stop, live, failed, reload, noteReload };
}
