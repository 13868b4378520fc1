/**
 * `wardgate doctor`: checks the machine against a configuration, each check saying what to fix.
 * Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 for a bad configuration.
 */
import { existsSync, statfsSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname } from 'node:path';
import { listeners } from '../config/listen.js';
import type { Config } from '../config/schema.js';
import { secretFileProblems } from '../config/secrets.js';
import { describeKeyFile } from '../crypto/keys.js';
import { type BleDoctorEnv, bleDoctorChecks } from '../devices/ble/doctor-checks.js';
import { type KafkaClient, KafkaClientError, type TopicSettings } from '../forwarder/client.js';
import { createKafkaClient, forwarderSettings } from '../forwarder/clients.js';
import { allTopics } from '../forwarder/routing.js';
import { silentLogger } from '../logger.js';
import { certificateFiles, certificateProblem, readCertificateFile } from '../metrics/certificates.js';
import { timedatectlSynchronized } from '../metrics/clock.js';

export interface DoctorCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  message: string;
  /** What to do about it (for warn and fail). */
  fix?: string;
}

/** The nearest existing folder at or above `p` (the data folder may not exist yet). */
function existingAncestor(p: string): string {
  let d = p;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  return d;
}

function keyChecks(c: Config, keyFile: string, dataDir: string): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  if (!existsSync(keyFile)) {
    return [{ name: 'key file', status: 'fail', message: `${keyFile} does not exist`, fix: `wardgate keygen --key-file ${keyFile}` }];
  }
  const problems = secretFileProblems(c, keyFile);
  if (problems.length) {
    out.push({ name: 'secret files', status: 'fail', message: problems.join('; '), fix: 'chmod 0600 the file(s) named, owned by the service user' });
  } else {
    out.push({ name: 'secret files', status: 'ok', message: `key file ${keyFile} and the secret files the configuration names are private` });
  }
  try {
    const protection = describeKeyFile(keyFile).protection;
    const sameDevice = statSync(keyFile).dev === statSync(existingAncestor(dataDir)).dev;
    if (protection === 'none' && sameDevice) {
      out.push({
        name: 'key placement',
        status: 'warn',
        message: `the data key ${keyFile} is not wrapped and sits on the same device as the buffer ${dataDir}: whoever takes the SD card can read the buffer`,
        fix:
          'wrap it with a secret file or passphrase kept elsewhere (docs/security.md: WARDGATE_KEY_SECRET_FILE / WARDGATE_KEY_PASSPHRASE), or keep ' +
          'the key file on another device',
      });
    } else {
      out.push({
        name: 'key placement',
        status: 'ok',
        message: protection === 'none' ? 'the data key is on another device than the buffer' : `the data key is wrapped (${protection})`,
      });
    }
  } catch (e) {
    out.push({ name: 'key placement', status: 'fail', message: (e as Error).message, fix: 'see docs/security.md' });
  }
  return out;
}

function diskCheck(c: Config, dataDir: string): DoctorCheck {
  const at = existingAncestor(dataDir);
  const s = statfsSync(at);
  const free = s.bavail * s.bsize;
  const need = c.buffer.maxBytes;
  const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(0)} MiB`;
  if (free < need) {
    return {
      name: 'disk space',
      status: 'warn',
      message: `${mib(free)} free at ${at}, the buffer may grow to buffer.maxBytes = ${mib(need)}`,
      fix: 'free space or lower buffer.maxBytes; when the disk fills the buffer sheds the lowest classes (gap records)',
    };
  }
  return { name: 'disk space', status: 'ok', message: `${mib(free)} free at ${at} for a buffer cap of ${mib(need)}` };
}

async function clockCheck(probe: () => Promise<boolean | null>): Promise<DoctorCheck> {
  const s = await probe();
  if (s === true) return { name: 'clock', status: 'ok', message: 'the system clock is synchronised' };
  if (s === false)
    return {
      name: 'clock',
      status: 'warn',
      message: 'the system clock is not synchronised',
      fix: 'enable systemd-timesyncd or chrony with a reachable time server (timedatectl set-ntp true)',
    };
  return {
    name: 'clock',
    status: 'warn',
    message: 'cannot tell whether the clock is synchronised (timedatectl did not answer)',
    fix: 'check timedatectl status, or chronyc tracking',
  };
}

function serialCheck(c: Config): DoctorCheck[] {
  const ports = c.devices.serial?.enabled === false ? [] : (c.devices.serial?.ports ?? []);
  return ports.map((p) =>
    existsSync(p.path)
      ? { name: `serial ${p.path}`, status: 'ok' as const, message: 'present' }
      : {
          name: `serial ${p.path}`,
          status: 'fail' as const,
          message: 'not present',
          fix: 'plug the cable in; with the package, use the stable names under /dev/wardgate/ (ls -l /dev/wardgate)',
        },
  );
}

function bluetoothCheck(c: Config, env?: BleDoctorEnv): DoctorCheck[] {
  return bleDoctorChecks(c.devices.ble, env);
}

function tcpReachable(hostPort: string, timeoutMs: number): Promise<string | null> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (why: string | null): void => {
      s.destroy();
      resolve(why);
    };
    s.setTimeout(timeoutMs, () => done('timed out'));
    s.once('connect', () => done(null));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function kafkaCheck(c: Config): Promise<DoctorCheck> {
  const results = await Promise.all(c.kafka.brokers.map(async (b) => ({ b, why: await tcpReachable(b, c.kafka.connectTimeout) })));
  const down = results.filter((r) => r.why !== null);
  if (down.length === results.length) {
    return {
      name: 'kafka',
      status: 'fail',
      message: `no broker reachable: ${down.map((r) => `${r.b} (${r.why})`).join(', ')}`,
      fix: 'check kafka.brokers, the network and firewalls; readings buffer meanwhile',
    };
  }
  if (down.length)
    return { name: 'kafka', status: 'warn', message: `unreachable: ${down.map((r) => `${r.b} (${r.why})`).join(', ')}`, fix: 'check those brokers' };
  return { name: 'kafka', status: 'ok', message: 'every broker accepts a TCP connection' };
}

/**
 * Logs in as the gateway would (`client`: its own Kafka client and settings: TLS, SASL, the
 * password file or WARDGATE_KAFKA_PASSWORD) and gets a producer id. A refusal of the login, the
 * certificate or the ACLs fails; anything else (a timeout, a broker going away) warns.
 */
async function kafkaLoginCheck(c: Config, client: KafkaClient): Promise<DoctorCheck> {
  const how = [c.kafka.tls?.enabled ? 'TLS' : '', c.kafka.sasl ? `SASL ${c.kafka.sasl.mechanism} as ${c.kafka.sasl.username}` : ''].filter(Boolean).join(', ');
  const name = 'kafka login';
  try {
    await client.connect(c.kafka.connectTimeout);
    return { name, status: 'ok', message: `connected and given a producer id${how ? ` (${how})` : ''}` };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    if (e instanceof KafkaClientError && e.kind === 'config')
      return {
        name,
        status: 'fail',
        message: `refused${how ? ` (${how})` : ''}: ${why}`,
        fix: 'check kafka.sasl (username, passwordFile or WARDGATE_KAFKA_PASSWORD), kafka.tls (CA, client certificate) and the ACLs for this user',
      };
    return {
      name,
      status: 'warn',
      message: `could not complete a login: ${why}`,
      fix: 'check that kafka.brokers are Kafka brokers and reachable; run doctor again',
    };
  }
}

/**
 * What a topic's settings do to readings Kafka acknowledged (after which wardgate deletes its copy):
 * a compacted topic keeps only the newest message per key (device or patient); one in-sync replica
 * acknowledges what one broker holds. Null when neither.
 */
export function topicSettingProblem(topic: string, s: TopicSettings, brokers: number): Omit<DoctorCheck, 'name'> | null {
  if (s.cleanupPolicy.split(',').some((p) => p.trim() === 'compact'))
    return {
      status: 'fail',
      message: `${topic}: cleanup.policy=${s.cleanupPolicy}: Kafka keeps only the newest message per key (a device or patient), removes the rest`,
      fix: `set cleanup.policy=delete on ${topic} (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config cleanup.policy=delete)`,
    };
  if (s.replicationFactor >= 2 && s.minInsyncReplicas < 2)
    return {
      status: 'warn',
      message:
        `${topic}: min.insync.replicas=${s.minInsyncReplicas} with ${s.replicationFactor} replicas: Kafka acknowledges what one broker holds, ` +
        'wardgate then deletes its copy, and that broker lost before the others copy it loses the readings',
      fix: `set min.insync.replicas=2 on ${topic}`,
    };
  if (s.replicationFactor === 1 && brokers > 1)
    return {
      status: 'warn',
      message: `${topic}: one replica on a cluster of ${brokers} brokers: what its broker's disk holds is the only copy`,
      fix: 'recreate it with replication factor 3 (kafka.topicReplicationFactor for the topics wardgate creates)',
    };
  return null;
}

/** Each topic the routing sends to, as Kafka has it (asked with the gateway's own client and login, `client`, connected). */
export async function kafkaTopicChecks(c: Config, client: KafkaClient): Promise<DoctorCheck[]> {
  const topics = allTopics(forwarderSettings(c.kafka).routing);
  try {
    if (!client.topicSettings) return [];
    const settings = await client.topicSettings(topics, c.kafka.connectTimeout);
    const brokers = (await client.clusterBrokers?.(c.kafka.connectTimeout).catch(() => [])) ?? [];
    return topics.map((t): DoctorCheck => {
      const name = `kafka topic ${t}`;
      const s = settings.get(t);
      if (!s)
        return c.kafka.createTopics
          ? { name, status: 'ok', message: 'not there yet: made at the first start (kafka.createTopics)' }
          : { name, status: 'warn', message: 'missing, and kafka.createTopics is off: its readings wait in the buffer until it exists', fix: `create ${t}` };
      const problem = topicSettingProblem(t, s, brokers.length);
      if (problem) return { name, ...problem };
      const kept = s.retentionMs < 0 ? 'for ever' : `${(s.retentionMs / 86_400_000).toFixed(1)} days`;
      return {
        name,
        status: 'ok',
        message: `cleanup.policy=${s.cleanupPolicy}, ${s.replicationFactor} replica(s), min.insync.replicas=${s.minInsyncReplicas}, kept ${kept}`,
      };
    });
  } catch (e) {
    return [
      {
        name: 'kafka topics',
        status: 'warn',
        message: `could not read the topics' settings: ${e instanceof Error ? e.message : String(e)}`,
        fix: 'run doctor again',
      },
    ];
  }
}

/**
 * TCP first; the login only when some broker answers (otherwise it would only repeat the TCP
 * failure); the topics after a login, on the same client and connection.
 */
async function kafkaChecks(c: Config): Promise<DoctorCheck[]> {
  const tcp = await kafkaCheck(c);
  if (tcp.status === 'fail') return [tcp];
  const client = createKafkaClient(c.kafka, silentLogger());
  try {
    const login = await kafkaLoginCheck(c, client);
    return login.status === 'ok' ? [tcp, login, ...(await kafkaTopicChecks(c, client))] : [tcp, login];
  } finally {
    await client.close(2000).catch(() => undefined);
  }
}

function portFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen(port, host, () => s.close(() => resolve(null)));
  });
}

async function listenerChecks(c: Config): Promise<DoctorCheck[]> {
  return Promise.all(
    listeners(c).map(async (l) => {
      const why = await portFree(l.host, l.port);
      return why === null
        ? { name: `listen ${l.host}:${l.port}`, status: 'ok' as const, message: `free (${l.path})` }
        : {
            name: `listen ${l.host}:${l.port}`,
            status: 'fail' as const,
            message: `cannot listen (${why}) for ${l.path}`,
            fix:
              why === 'EADDRINUSE'
                ? `another process holds it (ss -ltnp 'sport = :${l.port}'); stop it or change the port (a running wardgate holds its own ports: stop it first)`
                : `fix ${l.path}`,
          };
    }),
  );
}

/** Each configured TLS certificate file: fail when unreadable, ended or not valid yet; warn within health.certificateExpiry of its end. */
export function certificateChecks(c: Config, now: number = Date.now()): DoctorCheck[] {
  return certificateFiles(c).map((f) => {
    const s = readCertificateFile(f);
    const problem = certificateProblem(s, now, c.health.certificateExpiry);
    const name = `certificate ${f.use}`;
    if (problem === null) return { name, status: 'ok', message: `${f.file}: ends ${new Date(s.notAfter!).toISOString()}` };
    const usable = s.notAfter !== null && s.notBefore !== null && now >= s.notBefore && now < s.notAfter;
    return {
      name,
      status: usable ? 'warn' : 'fail',
      message: problem,
      fix: "renew the certificate, replace the file and restart wardgate (Kafka's files are also read again at each new connection)",
    };
  });
}

export async function runDoctor(
  c: Config,
  keyFile: string,
  dataDir: string,
  probe: () => Promise<boolean | null> = timedatectlSynchronized,
  bleEnv?: BleDoctorEnv,
): Promise<DoctorCheck[]> {
  return [
    ...keyChecks(c, keyFile, dataDir),
    diskCheck(c, dataDir),
    await clockCheck(probe),
    ...serialCheck(c),
    ...bluetoothCheck(c, bleEnv),
    ...certificateChecks(c),
    ...(await kafkaChecks(c)),
    ...(await listenerChecks(c)),
  ];
}

export function formatDoctor(checks: DoctorCheck[]): string {
  const mark = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  return `${checks.map((k) => `${mark[k.status]}  ${k.name}: ${k.message}${k.fix ? `\n      fix: ${k.fix}` : ''}`).join('\n')}\n`;
}
