/**
 * Helpers for integration tests against the real Kafka broker that test/setup/kafka-global.ts
 * starts with scripts/kafka-local.sh. They share no code with the gateway's Kafka client:
 * broker control goes through the script, topics and offsets through Kafka's own Java tools
 * (TopicCommand, GetOffsetShell), and reading/producing through Debian's kcat (librdkafka).
 *
 * Broker-control functions take the data folder (KAFKA_DIR) as an optional argument. Without it
 * they use, in order: `inject('kafkaDir')` inside vitest, then $KAFKA_DIR, then the script's
 * default (<repo>/.kafka-local). So they also work from a plain `tsx` script.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of scripts/kafka-local.sh. */
export const KAFKA_SCRIPT = fileURLToPath(new URL('../../scripts/kafka-local.sh', import.meta.url));

/** Env vars that shape a start; not inherited from the caller's shell unless passed explicitly. */
const START_ENV_KEYS = ['KAFKA_DIR', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT', 'KAFKA_ADVERTISED_PORT', 'KAFKA_EXTRA_PROPS', 'KAFKA_FORMAT_ARGS'] as const;

export interface BrokerOptions {
  /** KAFKA_DIR of the broker; see the module comment for the default. */
  dir?: string;
  /** Extra env for the script, e.g. { KAFKA_ADVERTISED_PORT: '23456', KAFKA_EXTRA_PROPS: file }. */
  env?: Record<string, string>;
  /** Kill the script after this long (default 120 s for start, 60 s otherwise). */
  timeoutMs?: number;
}

export interface RunResult {
  stdout: Buffer;
  stderr: string;
}

/** Thrown when a tool fails or times out; the message includes the tool's stderr. */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Runs a command with a timeout; rejects with a ToolError carrying stderr. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: Buffer | string } = {},
): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      {
        env: opts.env ?? process.env,
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        encoding: 'buffer',
        maxBuffer: 512 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const errText = stderr.toString('utf8');
        if (!err) {
          resolve({ stdout, stderr: errText });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string };
        const shown = `${cmd} ${args.join(' ')}`;
        let why: string;
        if (e.code === 'ENOENT') why = `${cmd} not found on PATH`;
        else if (e.killed) why = `timed out after ${timeoutMs} ms`;
        else why = `exited with ${String(e.code ?? e.message)}`;
        reject(
          new ToolError(
            `${shown}: ${why}${errText.trim() ? `\n--- stderr ---\n${tail(errText, 60)}` : ''}`,
            stdout.toString('utf8'),
            errText,
            typeof e.code === 'number' ? e.code : null,
          ),
        );
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function resolveDir(dir: string | undefined): Promise<string | undefined> {
  if (dir) return dir;
  if (process.env.VITEST) {
    try {
      const { inject } = await import('vitest');
      const injected = inject('kafkaDir');
      if (injected) return injected;
    } catch {
      // not inside a vitest worker with the kafka global setup
    }
  }
  return process.env.KAFKA_DIR || undefined;
}

function scriptEnv(dir: string | undefined, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of START_ENV_KEYS) delete env[k];
  if (dir) env.KAFKA_DIR = dir;
  return { ...env, ...extra };
}

function normalize(opts: string | BrokerOptions | undefined): BrokerOptions {
  return typeof opts === 'string' ? { dir: opts } : (opts ?? {});
}

/** Runs scripts/kafka-local.sh <args> for a broker folder; resolves with stdout (utf8). */
export async function kafkaScript(args: readonly string[], opts: string | BrokerOptions = {}): Promise<string> {
  const o = normalize(opts);
  const dir = await resolveDir(o.dir);
  const { stdout } = await run('bash', [KAFKA_SCRIPT, ...args], {
    env: scriptEnv(dir, o.env),
    timeoutMs: o.timeoutMs ?? (args[0] === 'start' || args[0] === 'restart' ? 120_000 : 60_000),
  });
  return stdout.toString('utf8');
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop()?.trim() ?? '';
}

/** Starts the broker (or finds it running) on its saved folder and port; resolves with "127.0.0.1:PORT". */
export async function startBroker(opts?: string | BrokerOptions): Promise<string> {
  const address = lastLine(await kafkaScript(['start'], opts ?? {}));
  if (!/^127\.0\.0\.1:\d+$/.test(address)) {
    throw new Error(`kafka-local.sh start did not print an address on its last line (got ${JSON.stringify(address)})`);
  }
  return address;
}

/** Clean stop (SIGTERM, SIGKILL after 30 s). Data and port are kept for startBroker(). */
export async function stopBroker(opts?: string | BrokerOptions): Promise<void> {
  await kafkaScript(['stop'], opts ?? {});
}

/** Crash: SIGKILL. */
export async function killBroker(opts?: string | BrokerOptions): Promise<void> {
  await kafkaScript(['kill'], opts ?? {});
}

/** Hung broker: SIGSTOP (connections stay open, requests time out). */
export async function pauseBroker(opts?: string | BrokerOptions): Promise<void> {
  await kafkaScript(['pause'], opts ?? {});
}

/** SIGCONT after pauseBroker(). */
export async function resumeBroker(opts?: string | BrokerOptions): Promise<void> {
  await kafkaScript(['resume'], opts ?? {});
}

export interface BrokerStatus {
  running: boolean;
  paused: boolean;
  /** "127.0.0.1:PORT" once a port was chosen for the folder, else null. */
  address: string | null;
  pid: number | null;
}

/** scripts/kafka-local.sh status, parsed (exit 3 = stopped is not an error). */
export async function brokerStatus(opts?: string | BrokerOptions): Promise<BrokerStatus> {
  let out: string;
  try {
    out = await kafkaScript(['status'], opts ?? {});
  } catch (err) {
    if (err instanceof ToolError && err.exitCode === 3) out = err.stdout;
    else throw err;
  }
  const line = lastLine(out);
  return {
    running: line.startsWith('running'),
    paused: /\bpaused\b/.test(line),
    address: /(127\.0\.0\.1:\d+)/.exec(line)?.[1] ?? null,
    pid: Number(/pid=(\d+)/.exec(line)?.[1]) || null,
  };
}

/** Runs a Kafka CLI main class on the broker's jars (scripts/kafka-local.sh tool ...). */
export async function kafkaTool(mainClass: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const { stdout } = await run('bash', [KAFKA_SCRIPT, 'tool', mainClass, ...args], {
    env: scriptEnv(await resolveDir(undefined)),
    timeoutMs,
  });
  return stdout.toString('utf8');
}

/**
 * Creates topics with Kafka's own org.apache.kafka.tools.TopicCommand (replication factor 1,
 * --if-not-exists), with topic settings (`configs`, e.g. max.message.bytes) where given.
 * kafka.admin.TopicCommand no longer exists in Kafka 4.x.
 */
export async function createTopics(brokers: string, topics: readonly string[], partitions = 3, configs: Readonly<Record<string, string>> = {}): Promise<void> {
  await Promise.all(
    topics.map((topic) =>
      kafkaTool('org.apache.kafka.tools.TopicCommand', [
        '--bootstrap-server',
        brokers,
        '--create',
        '--if-not-exists',
        '--topic',
        topic,
        '--partitions',
        String(partitions),
        '--replication-factor',
        '1',
        ...Object.entries(configs).flatMap(([k, v]) => ['--config', `${k}=${v}`]),
      ]),
    ),
  );
  // TopicCommand returns once the controller accepted the creation; wait until the broker's
  // metadata shows every partition with a leader, so a client that lists topics right away sees them.
  for (const topic of topics) await waitForTopicMetadata(brokers, topic, partitions);
}

async function waitForTopicMetadata(brokers: string, topic: string, partitions: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const { stdout } = await run('kcat', ['-L', '-b', brokers, '-t', topic, '-J'], { timeoutMs: 5_000 });
      const meta = JSON.parse(stdout.toString('utf8')) as { topics?: { topic: string; error?: string; partitions: { leader: number }[] }[] };
      const t = meta.topics?.find((x) => x.topic === topic);
      if (t && !t.error && t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0)) return;
      last = t?.error ?? `${t?.partitions.length ?? 0} of ${partitions} partitions`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} not in the broker's metadata after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** End offset (next offset to be written) of every partition, via org.apache.kafka.tools.GetOffsetShell --time -1. */
export async function partitionEndOffsets(brokers: string, topic: string): Promise<Record<number, number>> {
  const out = await kafkaTool('org.apache.kafka.tools.GetOffsetShell', ['--bootstrap-server', brokers, '--topic', topic, '--time', '-1']);
  const result: Record<number, number> = {};
  for (const line of out.split('\n')) {
    // topic:partition:offset (topic names cannot contain ':')
    const m = /^(.+):(\d+):(-?\d+)$/.exec(line.trim());
    if (m && m[1] === topic) result[Number(m[2])] = Number(m[3]);
  }
  if (Object.keys(result).length === 0) {
    throw new Error(`GetOffsetShell printed no offsets for topic ${topic} (does it exist?); output: ${out.trim()}`);
  }
  return result;
}

/** Sum of the end offsets of all partitions: the number of records on a fresh, non-transactional topic. */
export async function endOffsets(brokers: string, topic: string): Promise<number> {
  const parts = await partitionEndOffsets(brokers, topic);
  return Object.values(parts).reduce((a, b) => a + b, 0);
}

export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  /** UTF-8 decoded key; null when the record has no key. */
  key: string | null;
  keyBytes: Buffer | null;
  /** UTF-8 decoded payload ('' for a null payload, see valueBytes). Not JSON-parsed. */
  value: string;
  /** The payload's exact bytes; null for a null payload (tombstone). */
  valueBytes: Buffer | null;
  /** Headers as a map (a repeated name keeps its last value). */
  headers: Record<string, string>;
  /** Headers in order, repeats kept; value null for a null header value. */
  headerList: Array<[string, string | null]>;
  /** Record timestamp (ms). */
  timestamp: number;
}

/** Alias of KafkaRecord (the name some tests import). */
export type TopicMessage = KafkaRecord;

interface KcatJson {
  topic: string;
  partition: number;
  offset: number;
  ts?: number;
  headers?: Array<string | null>;
  key: string | null;
  payload: string | null;
}

/**
 * kcat -J writes key/payload bytes unescaped except for JSON's own escapes (", \, control
 * characters), so decoding its output as latin1 (one char per byte), JSON.parse, and re-encoding
 * the strings as latin1 gives back the exact bytes, also for payloads that are not valid UTF-8.
 */
function latin1Bytes(s: string | null | undefined): Buffer | null {
  return s === null || s === undefined ? null : Buffer.from(s, 'latin1');
}

function parseKcatJson(stdout: Buffer): KafkaRecord[] {
  const records: KafkaRecord[] = [];
  for (const line of stdout.toString('latin1').split('\n')) {
    if (!line.trim().startsWith('{')) continue;
    const j = JSON.parse(line) as KcatJson;
    const keyBytes = latin1Bytes(j.key);
    const valueBytes = latin1Bytes(j.payload);
    const headerList: Array<[string, string | null]> = [];
    const h = j.headers ?? [];
    for (let i = 0; i + 1 < h.length; i += 2) {
      headerList.push([latin1Bytes(h[i])?.toString('utf8') ?? '', latin1Bytes(h[i + 1])?.toString('utf8') ?? null]);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of headerList) headers[k] = v ?? '';
    records.push({
      topic: latin1Bytes(j.topic)?.toString('utf8') ?? '',
      partition: j.partition,
      offset: j.offset,
      key: keyBytes?.toString('utf8') ?? null,
      keyBytes,
      value: valueBytes?.toString('utf8') ?? '',
      valueBytes,
      headers,
      headerList,
      timestamp: j.ts ?? 0,
    });
  }
  return records;
}

export interface ReadTopicOptions {
  /** Keep re-reading until at least this many records are there (or the timeout passes). */
  expected?: number;
  /** Overall time limit (default 30 s). With `expected`, returns what is there at the timeout. */
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Reads a whole topic from the beginning with Debian's kcat (librdkafka; no consumer group, no
 * commits): `kcat -b H:P -C -t T -o beginning -e -J`. Records are sorted by partition, then offset.
 * Without `expected`, one pass; errors (unknown topic, broker down) reject with kcat's stderr.
 * With `expected`, errors and short reads are retried until the timeout, then whatever was read
 * last is returned (so the test's own assertion shows the difference), or the last error is thrown.
 */
export async function readTopic(brokers: string, topic: string, opts: ReadTopicOptions = {}): Promise<KafkaRecord[]> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let last: KafkaRecord[] | undefined;
  let lastErr: unknown;
  for (;;) {
    const remaining = Math.max(1_000, deadline - Date.now());
    try {
      const { stdout } = await run('kcat', ['-b', brokers, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q', '-m', '10'], {
        timeoutMs: Math.min(remaining, 60_000),
      });
      last = parseKcatJson(stdout).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      lastErr = undefined;
      if (opts.expected === undefined || last.length >= opts.expected) return last;
    } catch (err) {
      if (opts.expected === undefined) throw err;
      lastErr = err;
    }
    if (Date.now() + 250 >= deadline) break;
    await sleep(250);
  }
  if (last) return last;
  throw lastErr instanceof Error ? lastErr : new Error(`readTopic(${topic}) failed: ${String(lastErr)}`);
}

export interface ProduceMessage {
  key?: string | null;
  value: string | Buffer;
  headers?: Record<string, string>;
  partition?: number;
}

/**
 * Produces messages with kcat -P (librdkafka, acks=all), one kcat run per message so each can
 * have its own key, headers and partition. For test input that must not come from kafkajs.
 */
export async function produceWithKcat(brokers: string, topic: string, messages: readonly ProduceMessage[]): Promise<void> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'wardgate-kcat-'));
  try {
    for (const [i, m] of messages.entries()) {
      const file = path.join(tmp, `m${i}`);
      await writeFile(file, m.value);
      const args = ['-b', brokers, '-P', '-t', topic, '-X', 'acks=all', '-X', 'message.timeout.ms=15000'];
      if (m.key !== undefined && m.key !== null) args.push('-k', m.key);
      if (m.partition !== undefined) args.push('-p', String(m.partition));
      for (const [k, v] of Object.entries(m.headers ?? {})) args.push('-H', `${k}=${v}`);
      args.push(file); // file mode: the file's bytes are one message, exactly
      await run('kcat', args, { timeoutMs: 30_000 });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export { freePort } from './ports.js';
