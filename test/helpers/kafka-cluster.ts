/**
 * A real 3-node Kafka cluster for one test file, through scripts/kafka-cluster.sh (each node a
 * kafka-local.sh broker+controller on loopback, RF 3, min.insync.replicas=2). Like
 * test/helpers/kafka.ts it shares no code with the gateway's Kafka clients: control through the
 * script, topics through Kafka's own TopicCommand, reading through kcat.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, ToolError } from './kafka.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const CLUSTER_SCRIPT = fileURLToPath(new URL('../../scripts/kafka-cluster.sh', import.meta.url));

export interface Cluster {
  readonly dir: string;
  /** "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3" */
  readonly bootstrap: string;
  /** Node n's own address. */
  address(node: number): string;
  stop(node: number): Promise<void>;
  kill(node: number): Promise<void>;
  start(node: number): Promise<void>;
  /** Every node at once (a quorum of three needs two before any is ready). */
  stopAll(): Promise<void>;
  startAll(): Promise<void>;
  /** Kafka CLI class on the cluster's jars. */
  tool(mainClass: string, args: readonly string[], timeoutMs?: number): Promise<string>;
  /** With `proxyNode`: the loopback proxy every client and broker reaches that node through. */
  readonly proxy: TcpProxy | null;
  /** Stops every node and deletes the folder. */
  destroy(): Promise<void>;
}

async function script(dir: string, args: readonly string[], timeoutMs = 180_000, extra: Record<string, string> = {}): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_CLUSTER_DIR: dir, ...extra };
  for (const k of ['KAFKA_DIR', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT', 'KAFKA_EXTRA_PROPS', 'KAFKA_ADVERTISED_PORT']) delete env[k];
  const { stdout } = await run('bash', [CLUSTER_SCRIPT, ...args], { env, timeoutMs });
  return stdout.toString('utf8');
}

const lastLine = (s: string) => s.trimEnd().split('\n').pop()?.trim() ?? '';

/**
 * Starts a fresh 3-node cluster in a temporary folder. With `proxyNode`, that node advertises a
 * loopback TCP proxy (test/helpers/tcp-proxy.ts) in front of its listener, so a test can hold
 * that node's answers (`proxy.pause()`) while the other nodes answer.
 */
export async function startCluster(opts: { proxyNode?: number } = {}): Promise<Cluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wardgate-cluster-'));
  let proxy: TcpProxy | null = null;
  const env: Record<string, string> = {};
  if (opts.proxyNode) {
    const real = lastLine(await script(dir, ['init'])).split(',')[opts.proxyNode - 1]!;
    proxy = await startTcpProxy({ targetPort: Number(real.split(':')[1]) });
    env[`KAFKA_ADVERTISED_PORT_${opts.proxyNode}`] = String(proxy.port);
  }
  const sh = (args: readonly string[], timeoutMs?: number) => script(dir, args, timeoutMs, env);
  let bootstrap: string;
  try {
    bootstrap = lastLine(await sh(['start']));
  } catch (e) {
    await script(dir, ['kill']).catch(() => undefined);
    await proxy?.close();
    throw new Error(`the 3-node Kafka cluster could not start: ${e instanceof ToolError ? e.stderr : String(e)}`);
  }
  const addresses = bootstrap.split(',');
  if (proxy && opts.proxyNode) addresses[opts.proxyNode - 1] = `127.0.0.1:${proxy.port}`;
  const onExit = () => {
    // never leave JVMs behind if the runner dies
    void run('bash', [CLUSTER_SCRIPT, 'kill'], { env: { ...process.env, KAFKA_CLUSTER_DIR: dir } }).catch(() => undefined);
  };
  process.once('exit', onExit);
  return {
    dir,
    bootstrap: addresses.join(','),
    proxy,
    address: (n) => addresses[n - 1]!,
    stop: async (n) => void (await sh(['stop', String(n)])),
    kill: async (n) => void (await sh(['kill', String(n)])),
    start: async (n) => void (await sh(['start', String(n)])),
    stopAll: async () => void (await sh(['stop'])),
    startAll: async () => void (await sh(['start'])),
    tool: async (mainClass, args, timeoutMs = 60_000) => sh(['tool', mainClass, ...args], timeoutMs),
    destroy: async () => {
      process.removeListener('exit', onExit);
      await script(dir, ['kill']).catch(() => undefined);
      await proxy?.close();
      if (process.env.WARDGATE_KAFKA_KEEP !== '1') await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Kafka's TopicCommand --create with min.insync.replicas=2 and `placement` (partitions and replicas). */
async function createTopic(cluster: Cluster, topic: string, placement: readonly string[]): Promise<void> {
  await cluster.tool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    cluster.bootstrap,
    '--create',
    '--topic',
    topic,
    ...placement,
    '--config',
    'min.insync.replicas=2',
  ]);
}

/**
 * Creates a topic with an explicit replica assignment, e.g. [[1,2,3],[2,1,3]]: partition i's
 * preferred leader is its first node, and after that node stops, the next live one in the list.
 */
export async function createAssignedTopic(cluster: Cluster, topic: string, assignment: number[][]): Promise<void> {
  await createTopic(cluster, topic, ['--replica-assignment', assignment.map((r) => r.join(':')).join(',')]);
  await waitForLeaders(cluster.bootstrap, topic, (p) => p.leader === assignment[p.partition]![0]);
}

/** Creates a topic of `partitions` partitions, replication factor 3 and min.insync.replicas=2 (the caller waits for what it needs). */
export async function createReplicatedTopic(cluster: Cluster, topic: string, partitions: number): Promise<void> {
  await createTopic(cluster, topic, ['--partitions', String(partitions), '--replication-factor', '3']);
}

export interface PartitionMeta {
  partition: number;
  leader: number;
  isrs: number[];
}

export async function topicPartitions(bootstrap: string, topic: string): Promise<PartitionMeta[]> {
  const { stdout } = await run('kcat', ['-L', '-b', bootstrap, '-t', topic, '-J'], { timeoutMs: 10_000 });
  const meta = JSON.parse(stdout.toString('utf8')) as {
    topics?: { topic: string; error?: string; partitions: { partition: number; leader: number; isrs: number[] }[] }[];
  };
  const t = meta.topics?.find((x) => x.topic === topic);
  if (!t || t.error) throw new Error(`no metadata for ${topic}: ${t?.error ?? 'missing'}`);
  return t.partitions.map((p) => ({ partition: p.partition, leader: p.leader, isrs: p.isrs }));
}

/** Waits until every partition of the topic satisfies `ok` in the cluster's metadata. */
export async function waitForLeaders(bootstrap: string, topic: string, ok: (p: PartitionMeta) => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const parts = await topicPartitions(bootstrap, topic);
      if (parts.length > 0 && parts.every(ok)) return;
      last = JSON.stringify(parts);
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic}: partitions not as expected after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
