/**
 * vitest globalSetup of the `integration` project: one real Kafka broker (KRaft, loopback) per
 * test run, started by scripts/kafka-local.sh in a fresh temporary KAFKA_DIR.
 *
 * Tests get `inject('kafkaBrokers')` ("127.0.0.1:PORT") and `inject('kafkaDir')` (for
 * stopBroker()/startBroker()/killBroker()/pauseBroker() in test/helpers/kafka.ts).
 * If the broker cannot start, setup throws, naming what is missing (java, mvn, the jars, a free
 * port) with the script's output and the broker log tail: integration tests never skip silently.
 *
 * KAFKA_VERSION (e.g. 3.9.1) and KAFKA_HEAP pass through from the environment.
 * WARDGATE_KAFKA_KEEP=1 keeps the data folder after the run (its path is printed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { KAFKA_SCRIPT, startBroker, stopBroker, ToolError } from '../helpers/kafka.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    kafkaDir: string;
  }
}

function brokerLogTail(dir: string, lines = 40): string {
  const file = path.join(dir, 'broker.log');
  if (!existsSync(file)) return '(no broker.log was written)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function explain(err: unknown, dir: string): Error {
  const stderr = err instanceof ToolError ? err.stderr : '';
  const text = `${stderr}\n${err instanceof Error ? err.message : String(err)}`;
  const reasons: string[] = [];
  for (const line of stderr.split('\n')) {
    if (line.startsWith('kafka-local: error:')) reasons.push(line.slice('kafka-local: error:'.length).trim());
  }
  if (reasons.length === 0) {
    if (/bash not found/.test(text)) reasons.push('bash not found on PATH');
    else if (/timed out/.test(text)) reasons.push('scripts/kafka-local.sh start timed out');
    else reasons.push('scripts/kafka-local.sh start failed');
  }
  return new Error(
    [
      `Kafka broker for the integration tests could not start: ${reasons.join('; ')}`,
      `(needs java 17+ and mvn on PATH, the Kafka jars from test/kafka/pom.xml via Maven, and free loopback ports; KAFKA_DIR=${dir})`,
      '--- scripts/kafka-local.sh stderr ---',
      stderr.trim().split('\n').slice(-60).join('\n') || (err instanceof Error ? err.message : String(err)),
      '--- broker.log tail ---',
      brokerLogTail(dir),
    ].join('\n'),
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wardgate-kafka-'));
  const keep = process.env.WARDGATE_KAFKA_KEEP === '1';
  let tornDown = false;

  // Safety net if the runner dies without calling the teardown: never leave a JVM behind.
  const onExit = () => {
    if (tornDown) return;
    spawnSync('bash', [KAFKA_SCRIPT, 'kill'], { env: { ...process.env, KAFKA_DIR: dir }, stdio: 'ignore', timeout: 15_000 });
  };
  process.once('exit', onExit);

  let brokers: string;
  const t0 = Date.now();
  try {
    brokers = await startBroker({ dir, timeoutMs: 180_000 });
  } catch (err) {
    const error = explain(err, dir);
    onExit();
    tornDown = true;
    process.removeListener('exit', onExit);
    if (!keep) await rm(dir, { recursive: true, force: true });
    throw error;
  }
  console.log(`[kafka-global] Kafka broker ${brokers} ready in ${Date.now() - t0} ms (KAFKA_DIR=${dir})`);

  project.provide('kafkaBrokers', brokers);
  project.provide('kafkaDir', dir);

  return async () => {
    try {
      await stopBroker({ dir, timeoutMs: 60_000 });
    } catch (err) {
      console.error(`[kafka-global] clean stop failed, killing: ${err instanceof Error ? err.message : String(err)}`);
      onExit();
    } finally {
      tornDown = true;
      process.removeListener('exit', onExit);
      if (keep) console.log(`[kafka-global] kept ${dir}`);
      else await rm(dir, { recursive: true, force: true });
    }
  };
}
