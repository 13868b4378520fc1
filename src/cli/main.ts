/**
 * The `wardgate` command: run, simulate, status, keygen, config check.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration.
 */

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { AuditLog, auditPath } from '../audit/log.js';
import { auditSafely, configDigest } from '../audit/record.js';
import { verifyAuditFile } from '../audit/verify.js';
import { readBufferStats } from '../buffer/index.js';
import { checkListenAddresses } from '../config/listen.js';
import { ConfigError, loadConfigFile, validateConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { secretFileProblems } from '../config/secrets.js';
import { parseDuration } from '../config/units.js';
import { generateKeyFile, removeKey } from '../crypto/keys.js';
import { hashPassword } from '../devices/mqtt/auth.js';
import { ConfigurationError, errorCode, isConfigFsError, isConfigListenError } from '../errors.js';
import { type Gateway, keyFileFor, startGateway } from '../gateway.js';
import { createLogger, setLogLevel } from '../logger.js';
import { statusFilePath } from '../status-file.js';
import { steadyNow } from '../steady-clock.js';
import { ServiceNotifier } from '../systemd/notify.js';
import { formatDoctor, runDoctor } from './doctor.js';
import { DrainTracker, formatLiveLine, formatLiveView, LiveView } from './live-line.js';
import { type OutageSpec, parseOutages, scheduleOutages, scheduleWindows } from './outage.js';
import { reloadConfig, runningAfterReload } from './reload.js';
import { reloadCommand, statusFileForReload } from './reload-command.js';
import { statusCommand } from './status.js';
import { surviveClosedStdio } from './stdio.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

function durationArg(name: string) {
  return (v: string): number => {
    const ms = parseDuration(v);
    if (ms === undefined) throw new UsageError(`${name}: not a duration: ${JSON.stringify(v)} (use e.g. 30s, 500ms, 5m)`);
    return ms;
  };
}

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the overrides edit a copy of the config's raw form, which validateConfig below checks again
type RawConfig = Record<string, any>;

/** Loads the config file (or defaults, with environment overrides) and applies command-line overrides on top. */
function buildConfig(file: string | undefined, overrides: (raw: RawConfig) => void): Config {
  const base = file ? loadConfigFile(file) : validateConfig({}, 'defaults (with environment overrides)', { allowAnyFreePort: false });
  // Re-validate with overrides applied so they get the same checks as the file; the environment
  // was applied (and checked) already, and a command-line option wins over it.
  const raw = structuredClone(base) as RawConfig;
  overrides(raw);
  return validateConfig(raw, file ?? 'command line', { env: null, allowAnyFreePort: false });
}

/** Exit code of a failed start: 2 when the configuration is wrong (retrying cannot help), 1 for a runtime condition. */
function startFailureCode(e: unknown): number {
  // A file the configuration names (a TLS certificate, say) that is missing or unreadable at start is a configuration error too.
  const fileError =
    typeof (e as { path?: unknown } | null)?.path === 'string' && (errorCode(e) === 'ENOENT' || errorCode(e) === 'EISDIR' || isConfigFsError(e));
  return e instanceof ConfigurationError || e instanceof ConfigError || isConfigListenError(e) || fileError ? EXIT_USAGE : EXIT_FAILURE;
}

function waitForSignal(): { promise: Promise<string>; dispose: () => void } {
  let dispose = (): void => {};
  const promise = new Promise<string>((resolvePromise) => {
    const on = (sig: string) => () => resolvePromise(sig);
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    dispose = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
  });
  return { promise, dispose };
}

async function runGateway(
  config: Config,
  mode: 'run' | 'simulate',
  durationMs: number | undefined,
  drainTimeoutMs: number,
  showLive: boolean,
  configFile?: string,
  pretty = false,
  /** Called once the gateway started (scripted outages); returns what to call when it stops. */
  onStarted?: () => () => void,
): Promise<number> {
  const log = createLogger({ level: config.log.level, pretty });
  // systemd (Type=notify): READY=1 only once the buffer is open and the adapters started.
  const notify = new ServiceNotifier({ log: log.child({ module: 'systemd' }) });
  // SIGTERM and SIGINT are caught from before the start: one that arrives while the gateway starts
  // (a `systemctl stop` of a unit still activating, or right after "wardgate started" is logged)
  // stops it in order once it has started, never by the default action (terminate, no drain).
  const sig = waitForSignal();
  let gateway: Gateway;
  try {
    gateway = await startGateway(config, { mode, log, createKeyIfMissing: mode === 'simulate' });
  } catch (e) {
    // startGateway stopped whatever it had started before rethrowing: the process can end now.
    sig.dispose();
    notify.close();
    const code = startFailureCode(e);
    process.stderr.write(`wardgate: cannot start${code === EXIT_USAGE ? ' (configuration)' : ''}: ${(e as Error).message}\n`);
    log.flush();
    return code;
  }
  const stopScript = onStarted?.();
  const backlog = gateway.buffer.stats().totalReadings;
  if (backlog > 0) {
    process.stdout.write(`${backlog} readings buffered from before this start: forwarding them to Kafka, alarms first\n`);
  }
  // Live view: several lines redrawn on a terminal, the one-line summary every 5 s elsewhere.
  const line = new LiveView(process.stdout);
  const drain = new DrainTracker(undefined, backlog);
  let perSource: Record<string, number> = {};
  let lastCounts = new Map<string, number>();
  let lastCountAt = steadyNow();
  const show = (force = false): void => {
    if (!showLive) return;
    const status = gateway.live();
    const buffer = gateway.buffer.stats();
    const drainFrom = drain.update(status.forwarder.state === 'online' || status.forwarder.state === 'draining', buffer.totalReadings);
    line.update(formatLiveView({ status, buffer, perSource, drainFrom }), formatLiveLine(status, buffer), force);
  };
  const sample = async (): Promise<void> => {
    const now = steadyNow();
    const counts = new Map<string, number>();
    for (const v of (await gateway.events.ingested.get()).values) {
      const fam = String(v.labels.family);
      counts.set(fam, (counts.get(fam) ?? 0) + v.value);
    }
    const dt = Math.max(1, now - lastCountAt) / 1000;
    perSource = Object.fromEntries([...counts].map(([k, n]) => [k, Math.max(0, n - (lastCounts.get(k) ?? 0)) / dt]));
    lastCounts = counts;
    lastCountAt = now;
    show();
  };
  const liveTimer = setInterval(() => void sample().catch(() => show()), 1000);
  // SIGHUP: validate the file again; a bad one keeps the running configuration; the live
  // settings are applied, the others named as needing a restart (src/cli/reload.ts). Reloads
  // run one after the other.
  let running = config;
  let reloading: Promise<void> = Promise.resolve();
  const hup = async (): Promise<void> => {
    notify.reloading();
    const audit = AuditLog.forDataDir(gateway.dataDir);
    if (!configFile) {
      log.warn('SIGHUP: no configuration file to reload (started without one)');
    } else {
      const r = reloadConfig(configFile, running);
      if (!r.ok) {
        log.error({ configFile, error: r.error }, 'SIGHUP: the configuration file is not valid; the running configuration stays');
        auditSafely(audit, log, 'config_reload_refused', { configFile });
        gateway.noteReload({ at: Date.now(), ok: false, applied: [], needsRestart: [], failed: [], error: r.error });
      } else {
        // The device families are compared (and the MQTT users file read again) even when the file is unchanged.
        const g = await gateway.reload(runningAfterReload(running, r.config, r.config.devices));
        if (r.applied.includes('log.level')) setLogLevel(log, r.config.log.level);
        running = runningAfterReload(running, r.config, g.devices);
        const applied = r.applied.filter((p) => !g.failed.some((f) => p === `devices.${f.family}` || p.startsWith(`devices.${f.family}.`)));
        if (r.changed.length === 0 && g.failed.length === 0) log.info({ configFile }, 'SIGHUP: the configuration file is unchanged');
        if (applied.length) log.warn({ configFile, applied, reconfigured: g.reconfigured, restarted: g.restarted, topics: g.topics }, 'SIGHUP: applied');
        for (const f of g.failed)
          log.error({ configFile, family: f.family, error: f.error }, 'SIGHUP: a device family could not take its new settings and keeps its old ones');
        if (r.needsRestart.length)
          log.warn({ configFile, needsRestart: r.needsRestart }, 'SIGHUP: settings changed that take effect only after a restart (systemctl restart wardgate)');
        gateway.noteReload({ at: Date.now(), ok: g.failed.length === 0, applied, needsRestart: r.needsRestart, failed: g.failed });
        if (r.changed.length || g.failed.length)
          auditSafely(audit, log, 'config_changed', {
            configFile,
            sha256: configDigest(r.config),
            applied,
            needsRestart: r.needsRestart,
            ...(g.failed.length ? { failed: g.failed.map((f) => f.family) } : {}),
          });
      }
    }
    notify.ready(`gateway ${gateway.gatewayId} running`);
  };
  const onHup = (): void => {
    reloading = reloading.then(hup).catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, 'SIGHUP: reload failed'));
  };
  process.on('SIGHUP', onHup);
  // READY=1 only now that SIGHUP, SIGTERM and SIGINT have their handlers: a `systemctl reload` or
  // stop right after start must reload or drain, never meet the default action (terminate) or an
  // inherited SIG_IGN (lost).
  notify.ready(`gateway ${gateway.gatewayId} running`);
  const timers: NodeJS.Timeout[] = [];
  let failure: string | undefined;
  const ended = await Promise.race([
    sig.promise,
    gateway.failed.then((why) => {
      failure = why;
      return 'failure';
    }),
    ...(durationMs !== undefined ? [new Promise<string>((r) => timers.push(setTimeout(() => r('duration'), durationMs)))] : []),
  ]);
  sig.dispose();
  stopScript?.();
  process.off('SIGHUP', onHup);
  await reloading;
  notify.stopping(ended === 'failure' ? `stopping: ${failure}` : `stopping (${ended})`);
  for (const t of timers) clearTimeout(t);
  show(true);
  line.end();
  // How the stop may wait for Kafka: a failure not at all; the requested duration or `simulate` drain
  // for --drain-timeout; `run` on a signal has a grace, ended at once by Kafka going away (docs/operations.md).
  const [waitMs, whileConnected] =
    ended === 'failure' ? [0, false] : ended === 'duration' || mode === 'simulate' ? [drainTimeoutMs, false] : [config.kafka.stopGrace, true];
  if (ended === 'failure') process.stderr.write(`wardgate: ${failure}\n`);
  else if (ended === 'duration') process.stdout.write(`devices stopped after the requested duration; draining to Kafka for up to ${waitMs / 1000} s…\n`);
  else {
    const secs = waitMs / 1000;
    const how = whileConnected ? `sending what is buffered for up to ${secs} s while Kafka is connected` : `draining for up to ${secs} s`;
    process.stdout.write(`${ended}: stopping${waitMs ? `, ${how}` : ''}…\n`);
  }
  // A second signal while draining stops at once.
  const second = waitForSignal();
  const drained = await Promise.race([gateway.stop(waitMs, { whileConnected }), second.promise.then(() => gateway.stop(0))]);
  second.dispose();
  clearInterval(liveTimer);
  notify.close();
  const s = gateway.live();
  process.stdout.write(
    `summary: gateway ${gateway.gatewayId}: ${s.ingestedTotal} readings committed, ${s.forwarder.forwarded} forwarded to Kafka, ` +
      (drained
        ? 'buffer empty.\n'
        : `buffer not empty: the rest stays encrypted in ${gateway.dataDir} and is sent on the next start ` +
          `(kafka ${s.forwarder.state}: ${s.forwarder.reason}).\n`),
  );
  log.flush();
  // A runtime failure: exit 1, so systemd starts it again (and the start salvages the buffer).
  return ended === 'failure' ? EXIT_FAILURE : EXIT_OK;
}

function buildProgram(result: { code: number }): Command {
  const program = new Command()
    .name('wardgate')
    .description('Edge gateway for hospital wards: device telemetry -> encrypted store-and-forward buffer -> Apache Kafka')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('Run the gateway service with a configuration file')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('--pretty', 'log lines for humans instead of JSON (journald and scripts want the JSON default)')
    .action(async (o: { config: string; pretty?: boolean }) => {
      const config = loadConfigFile(o.config);
      result.code = await runGateway(config, 'run', undefined, 0, process.stdout.isTTY === true, o.config, o.pretty === true);
    });

  program
    .command('simulate')
    .description('Run the whole gateway fed by a simulated ward (no config file needed)')
    .addOption(new Option('--beds <n>', 'number of simulated beds').argParser(intArg('--beds', 1, 500)))
    .addOption(
      new Option('--duration <time>', 'stop the simulated devices after this long (e.g. 30s); default: until SIGINT/SIGTERM').argParser(
        durationArg('--duration'),
      ),
    )
    .addOption(
      new Option('--drain-timeout <time>', 'after the devices stop, keep forwarding for up to this long')
        .default(10_000, '10s')
        .argParser(durationArg('--drain-timeout')),
    )
    .option('--brokers <list>', 'Kafka bootstrap servers, host:port[,host:port...]')
    .option('--data <dir>', 'data folder for the buffer and key (default ./wardgate-data)')
    .option('-c, --config <file>', 'YAML configuration file; command-line options override it')
    .addOption(new Option('--seed <n>', 'random seed for a reproducible ward').argParser(intArg('--seed', 0, 2 ** 31 - 1)))
    .addOption(new Option('--alarm-rate <p>', 'probability per bed per second that an alarm episode starts').argParser(Number))
    .option('--no-live', 'do not print the live status line')
    .option('--pretty', 'log lines for humans instead of JSON')
    .option('--outage <list>', 'scripted Kafka outages through a local proxy: <duration>@<start>[,...], e.g. 20s@30s (plaintext Kafka only)')
    .option('--unplug <list>', "scripted fault: the first simulated monitor's cable pulled out, <duration>@<start>[,...] (needs --monitors)")
    .option('--garbage <list>', "scripted fault: random bytes on the first simulated monitor's line, <duration>@<start>[,...] (needs --monitors)")
    .option(
      '--monitors <list>',
      'simulated serial monitors on socat pty pairs, e.g. intellivue:2,ge-s5:2,masimo:2 (needs socat); without --beds, no simulated beds',
    )
    .addOption(
      new Option(
        '--wearables <n>',
        'simulated BLE wearables (strap, oximeter, thermometer, BP cuff in rotation, two per bed) over a simulated HCI controller on a socat pty pair',
      ).argParser(intArg('--wearables', 1, 200)),
    )
    .action(
      async (o: {
        beds?: number;
        duration?: number;
        drainTimeout: number;
        brokers?: string;
        data?: string;
        config?: string;
        seed?: number;
        alarmRate?: number;
        live: boolean;
        pretty?: boolean;
        outage?: string;
        unplug?: string;
        garbage?: string;
        monitors?: string;
        wearables?: number;
      }) => {
        let outages: OutageSpec[] = [];
        let unplugs: OutageSpec[] = [];
        let garbage: OutageSpec[] = [];
        try {
          if (o.outage !== undefined) outages = parseOutages(o.outage);
          if (o.unplug !== undefined) unplugs = parseOutages(o.unplug, '--unplug');
          if (o.garbage !== undefined) garbage = parseOutages(o.garbage, '--garbage');
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
        if ((unplugs.length || garbage.length) && o.monitors === undefined)
          throw new UsageError('--unplug and --garbage act on a simulated monitor: add --monitors');
        // Simulated serial monitors live in hardware-mocks/: loaded only when asked for.
        const ward =
          o.monitors === undefined
            ? null
            : await import('../../hardware-mocks/serial/ward.js').then(async (m) => m.startSerialWard(m.parseMonitorSpec(o.monitors!), o.seed));
        const wearables = o.wearables === undefined ? null : await import('../../hardware-mocks/ble/ward.js').then((m) => m.startBleWard(o.wearables!, o.seed));
        let closeProxy: (() => Promise<void>) | undefined;
        try {
          const config = buildConfig(o.config, (raw) => {
            raw.devices.simulator.enabled = ward === null || o.beds !== undefined;
            if (ward) raw.devices.serial = { ...raw.devices.serial, ports: [...(raw.devices.serial?.ports ?? []), ...ward.ports] };
            if (wearables)
              raw.devices.ble = {
                ...raw.devices.ble,
                hci: { uart: { port: wearables.hostPort } },
                devices: [...(raw.devices.ble?.devices ?? []), ...wearables.devices],
                maxConnections: Math.max(7, wearables.devices.length),
              };
            if (o.beds !== undefined) raw.devices.simulator.beds = o.beds;
            if (o.seed !== undefined) raw.devices.simulator.seed = o.seed;
            if (o.alarmRate !== undefined) raw.devices.simulator.alarmRate = o.alarmRate;
            if (o.brokers !== undefined)
              raw.kafka.brokers = o.brokers
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean);
            if (o.data !== undefined) raw.gateway.dataDir = o.data;
            // The live status line says what matters; without a config file only errors are logged.
            if (!o.config) raw.log.level = 'error';
          });
          let run = config;
          const scripts: (() => () => void)[] = [];
          const say = (l: string): void => void process.stdout.write(`${l}\n`);
          if (ward && unplugs.length)
            scripts.push(() =>
              scheduleWindows(
                unplugs,
                () => ward.unplug(0),
                () => ward.replug(0),
                say,
                {
                  begin: (s) => `fault: monitor ${ward.ports[0]!.deviceId} (${ward.ports[0]!.bed}) cable unplugged for ${s} s (scripted)`,
                  end: `fault: monitor ${ward.ports[0]!.deviceId} plugged back in`,
                },
              ),
            );
          if (ward && garbage.length) {
            let stopNoise: (() => void) | null = null;
            scripts.push(() =>
              scheduleWindows(
                garbage,
                () => {
                  stopNoise = ward.garbage(0);
                },
                () => stopNoise?.(),
                say,
                {
                  begin: (s) => `fault: garbage on monitor ${ward.ports[0]!.deviceId}'s line for ${s} s (scripted)`,
                  end: `fault: monitor ${ward.ports[0]!.deviceId}'s line clean again`,
                },
              ),
            );
          }
          if (outages.length > 0) {
            if (config.kafka.tls?.enabled) throw new UsageError('--outage: the outage proxy works with plaintext Kafka only (kafka.tls is enabled)');
            const proxy = await import('../../hardware-mocks/kafka-outage-proxy.js').then((m) => m.startKafkaOutageProxy(config.kafka.brokers));
            closeProxy = () => proxy.close();
            run = { ...config, kafka: { ...config.kafka, brokers: proxy.bootstrap } };
            process.stdout.write(`outage proxy: Kafka ${config.kafka.brokers.join(',')} reached through ${proxy.bootstrap.join(',')}\n`);
            scripts.push(() => scheduleOutages(outages, proxy, say));
          }
          const onStarted = scripts.length
            ? () => {
                const cancels = scripts.map((f) => f());
                return () => {
                  for (const c of cancels) c();
                };
              }
            : undefined;
          result.code = await runGateway(run, 'simulate', o.duration, o.drainTimeout, o.live, undefined, o.pretty === true, onStarted);
        } finally {
          await closeProxy?.();
          await ward?.stop();
          await wearables?.stop();
        }
      },
    );

  program
    .command('status')
    .description('Buffer depth per class, oldest reading age, last successful forward, Kafka state')
    .option('--data <dir>', 'data folder (default ./wardgate-data)')
    .option('-c, --config <file>', 'configuration file (its gateway.dataDir is used)')
    .option('--json', 'machine-readable output')
    .action(async (o: { data?: string; config?: string; json?: boolean }) => {
      const cfg = buildConfig(o.config, (raw) => {
        if (o.data !== undefined) raw.gateway.dataDir = o.data;
      });
      // A status file set by gateway.statusFile is where the running gateway writes it (not with --data).
      const statusFile = resolve(statusFilePath(cfg.gateway.dataDir, o.data === undefined ? cfg.gateway.statusFile : undefined));
      result.code = statusCommand(resolve(cfg.gateway.dataDir), keyFileFor(cfg), o.json === true, process.stdout, statusFile);
    });

  program
    .command('reload')
    .description("Reload the running gateway's configuration (SIGHUP) and wait for its answer: exit 0 applied, 1 refused or partly kept, 2 no answer")
    .option('--data <dir>', 'data folder (default ./wardgate-data)')
    .option('-c, --config <file>', 'configuration file (its gateway.dataDir is used)')
    .addOption(new Option('--pid <pid>', 'the gateway process (default: the one its status file names)').argParser(intArg('--pid', 1, 2 ** 22)))
    .addOption(new Option('--timeout <time>', 'how long to wait for the answer').default(60_000, '60s').argParser(durationArg('--timeout')))
    .action(async (o: { data?: string; config?: string; pid?: number; timeout: number }) => {
      // Not buildConfig: the file may be the bad one whose refusal this command is to report.
      const statusFile =
        o.data !== undefined
          ? resolve(statusFilePath(o.data))
          : o.config !== undefined
            ? statusFileForReload(o.config)
            : resolve(statusFilePath(buildConfig(undefined, () => {}).gateway.dataDir));
      const r = await reloadCommand(statusFile, { timeoutMs: o.timeout, ...(o.pid !== undefined ? { pid: o.pid } : {}) });
      (r.code === 0 ? process.stdout : process.stderr).write(`wardgate reload: ${r.message}\n`);
      result.code = r.code;
    });

  program
    .command('keygen')
    .description('Write a new data key file (mode 0600), or add a new active key with --rotate')
    .option('--key-file <path>', 'key file to write (default <data>/wardgate.key)')
    .option('--data <dir>', 'data folder (default ./wardgate-data)')
    .option('-c, --config <file>', 'configuration file (its buffer.keyFile / gateway.dataDir are used)')
    .option('--rotate', 'add a new key and make it active; older keys stay to read the backlog')
    .addOption(
      new Option('--remove <id>', 'remove a retired key that no buffered unit uses any more (see wardgate status)').argParser(intArg('--remove', 1, 2 ** 31)),
    )
    .action(async (o: { keyFile?: string; data?: string; config?: string; rotate?: boolean; remove?: number }) => {
      const cfg = buildConfig(o.config, (raw) => {
        if (o.data !== undefined) raw.gateway.dataDir = o.data;
      });
      const path = o.keyFile ?? keyFileFor(cfg);
      if (o.remove !== undefined) {
        const stats = readBufferStats(resolve(cfg.gateway.dataDir));
        const inUse = stats ? [...stats.keyIdsInUse, ...stats.quarantineKeyIds] : [];
        const r = removeKey(resolve(path), o.remove, inUse);
        auditKeyChange(cfg.gateway.dataDir, 'key_retired', { keyFile: resolve(path), keyId: o.remove, keysLeft: r.keyIds });
        process.stdout.write(`removed key ${o.remove} from ${resolve(path)}; keys left: ${r.keyIds.join(', ')}\n`);
        result.code = EXIT_OK;
        return;
      }
      const r = generateKeyFile(resolve(path), { rotate: o.rotate === true });
      auditKeyChange(cfg.gateway.dataDir, o.rotate ? 'key_rotated' : 'key_created', { keyFile: resolve(path), activeKeyId: r.activeKeyId });
      process.stdout.write(`${o.rotate ? 'rotated' : 'wrote'} key file ${resolve(path)}: active key ${r.activeKeyId}\n`);
      result.code = EXIT_OK;
    });

  program
    .command('hash-password')
    .description('Print a salted scrypt hash of a password read from standard input (for MQTT users in the config)')
    .action(async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const password = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/\r?\n$/, '');
      if (password.length === 0) throw new UsageError('hash-password: no password on standard input (e.g. printf %s "$PW" | wardgate hash-password)');
      process.stdout.write(`${await hashPassword(password)}\n`);
      result.code = EXIT_OK;
    });

  program
    .command('doctor')
    .description('Check this machine against a configuration (key file, disk, clock, serial, Bluetooth, Kafka, listening ports); exit 1 when a check fails')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .option('--json', 'machine-readable output')
    .action(async (o: { config: string; json?: boolean }) => {
      const c = loadConfigFile(o.config);
      const checks = await runDoctor(c, keyFileFor(c), resolve(c.gateway.dataDir));
      process.stdout.write(o.json ? `${JSON.stringify(checks, null, 2)}\n` : formatDoctor(checks));
      result.code = checks.some((k) => k.status === 'fail') ? EXIT_FAILURE : EXIT_OK;
    });

  program
    .command('audit')
    .description('The hash-chained audit log of security events (<data>/audit.log)')
    .command('verify')
    .description("Check the audit log's hash chain: an edited, deleted or reordered line is named; exit 1 when broken")
    .option('--data <dir>', 'data folder (default ./wardgate-data)')
    .option('-c, --config <file>', 'configuration file (its gateway.dataDir is used)')
    .option('--file <path>', 'audit file to check (default <data>/audit.log)')
    .action(async (o: { data?: string; config?: string; file?: string }) => {
      const c = buildConfig(o.config, (raw) => {
        if (o.data !== undefined) raw.gateway.dataDir = o.data;
      });
      const file = resolve(o.file ?? auditPath(resolve(c.gateway.dataDir)));
      if (!existsSync(file)) throw new UsageError(`audit verify: no audit log at ${file}`);
      const v = verifyAuditFile(file);
      if (v.ok) {
        process.stdout.write(`${file}: ${v.records} records, chain intact; head seq ${v.head.seq} hash ${v.head.hash}\n`);
        result.code = EXIT_OK;
        return;
      }
      process.stdout.write(`${file}: chain BROKEN (${v.problems.length} problems in ${v.records} records)\n`);
      for (const p of v.problems) process.stdout.write(`  line ${p.line}: ${p.why}\n`);
      result.code = EXIT_FAILURE;
    });

  const cfg = program.command('config').description('Configuration tools');
  cfg
    .command('check')
    .description('Validate a configuration file; print each bad field and why')
    .argument('<file>', 'YAML configuration file')
    .action(async (file: string) => {
      const c = loadConfigFile(file);
      const problems = [...(await checkListenAddresses(c)), ...secretFileProblems(c, keyFileFor(c))];
      if (problems.length) throw new ConfigError(`${file}: the settings are valid, but`, problems);
      if (process.env.WARDGATE_KAFKA_PASSWORD && !c.kafka.sasl) {
        process.stdout.write(`${file}: note: WARDGATE_KAFKA_PASSWORD is set but kafka.sasl is not configured, so it is not used\n`);
      }
      const devices = Object.entries(c.devices)
        .filter(([, v]) => (v as { enabled?: boolean } | undefined)?.enabled)
        .map(([k]) => k);
      process.stdout.write(`${file}: ok (kafka ${c.kafka.brokers.join(',')}, data ${c.gateway.dataDir}, devices: ${devices.join(', ') || 'none enabled'})\n`);
      result.code = EXIT_OK;
    });

  return program;
}

/** Key changes go into the audit log of the data folder, when there is one (a key file elsewhere, alone, has none). */
function auditKeyChange(dataDir: string, event: string, detail: Record<string, unknown>): void {
  const dir = resolve(dataDir);
  if (!existsSync(dir)) return;
  try {
    AuditLog.forDataDir(dir).append(event, detail);
  } catch (e) {
    process.stderr.write(`wardgate: the key change was made but could not be written to the audit log ${auditPath(dir)}: ${(e as Error).message}\n`);
  }
}

export async function main(argv: string[]): Promise<number> {
  surviveClosedStdio();
  const result = { code: EXIT_OK };
  const program = buildProgram(result);
  try {
    await program.parseAsync(argv);
    return result.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return e.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (e instanceof ConfigError || e instanceof UsageError || e instanceof ConfigurationError) {
      process.stderr.write(`wardgate: ${e.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`wardgate: ${(e as Error).message ?? String(e)}\n`);
    return EXIT_FAILURE;
  }
}
