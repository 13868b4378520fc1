/**
 * `--pretty`: the same log events as human lines; without it, every line stays one JSON object
 * (journald and scripts read it). The process is the real `wardgate run` (Kafka down).
 */

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyFile } from '../../src/crypto/keys.js';
import { prettyLine } from '../../src/logger.js';
import { spawnCli, tempDir, waitFor } from '../helpers/gateway.js';

async function runOnce(pretty: boolean): Promise<string[]> {
  const dir = tempDir();
  const keyFile = join(dir, 'wardgate.key');
  generateKeyFile(keyFile);
  const cfg = join(dir, 'wardgate.yaml');
  writeFileSync(cfg, `gateway:\n  dataDir: ${join(dir, 'data')}\nbuffer:\n  keyFile: ${keyFile}\nkafka:\n  brokers: ["127.0.0.1:1"]\nlog:\n  level: info\n`);
  const c = spawnCli(['run', '--config', cfg, ...(pretty ? ['--pretty'] : [])]);
  try {
    await waitFor(() => c.stderr().includes('wardgate started') || c.proc.exitCode !== null, 60_000, 'the start');
    c.proc.kill('SIGTERM');
    expect(await c.exited, c.stderr()).toBe(0);
  } finally {
    if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
  return c.stderr().split('\n').filter(Boolean);
}

const isJsonObject = (l: string): boolean => {
  try {
    const o = JSON.parse(l);
    return typeof o === 'object' && o !== null;
  } catch {
    return false;
  }
};

describe('--pretty', () => {
  it('formats one JSON line: time, level, module, message, fields; redacted values stay redacted', () => {
    const line = JSON.stringify({
      level: 40,
      time: '2026-12-06T04:05:06.789Z',
      app: 'wardgate',
      module: 'kafka',
      msg: 'kafka offline',
      to: 'offline',
      value: '[redacted]',
      n: 3,
    });
    expect(prettyLine(line)).toBe('04:05:06.789 WARN  [kafka] kafka offline  to=offline value=[redacted] n=3');
    expect(prettyLine('not json')).toBe('not json');
  });

  it('wardgate run: JSON lines by default, human lines with --pretty, the same events', async () => {
    const [json, pretty] = await Promise.all([runOnce(false), runOnce(true)]);
    expect(json.length).toBeGreaterThan(1);
    expect(json.filter((l) => !isJsonObject(l))).toEqual([]);
    const messages = json.map((l) => JSON.parse(l).msg as string);
    expect(messages).toContain('wardgate started');
    expect(messages).toContain('wardgate stopped');
    expect(pretty.filter(isJsonObject)).toEqual([]);
    for (const l of pretty) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /);
    expect(pretty.some((l) => / wardgate started {2}gatewayId=/.test(l))).toBe(true);
    expect(pretty.some((l) => l.includes(' wardgate stopped'))).toBe(true);
  }, 90_000);
});
