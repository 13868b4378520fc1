import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/load.js';

function problems(text: string): string[] {
  try {
    parseConfigText(text, 'test.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('an empty file gives the documented defaults', () => {
    const c = parseConfigText('', 'empty.yaml');
    expect(c.kafka.topics).toEqual({ alarm: 'ward.alarms', vital: 'ward.vitals', status: 'ward.status', waveform: 'ward.waveforms' });
    expect(c.buffer.commitInterval).toBeUndefined(); // the class delays of src/buffer/pacing.ts apply
    expect(c.buffer.commitMaxDelay).toBeUndefined();
    expect(c.buffer.integrityCheck).toBe('background');
    expect(c.buffer.synchronous).toBe('full');
    expect(c.gateway.dataDir).toBe('./wardgate-data');
  });

  it('the annotated example in the repository is valid', () => {
    const c = loadConfigFile(join(import.meta.dirname, '../../wardgate.example.yaml'));
    expect(c.buffer.maxBytes).toBe(2 * 1024 ** 3);
    expect(c.buffer.maxAge).toBe(7 * 86_400_000);
    expect(c.kafka.sendTimeout).toBe(10_000);
  });

  it('the commented-out MQTT example in wardgate.example.yaml is valid once uncommented', () => {
    const text = readFileSync(join(import.meta.dirname, '../../wardgate.example.yaml'), 'utf8').split('\n');
    const start = text.findIndex((l) => l.startsWith('  # mqtt:'));
    expect(start).toBeGreaterThan(0);
    const block: string[] = [];
    for (let i = start; i < text.length && text[i]!.startsWith('  #'); i++) {
      // '  # mqtt:' -> '  mqtt:', '  #   enabled' -> '    enabled'; drop trailing '# example' remarks.
      block.push(`  ${text[i]!.slice(4)}`.replace(/\s+#\s.*$/, ''));
    }
    const yaml = `devices:\n${block.join('\n').replace('scrypt$16384$8$1$...', '"scrypt$16384$8$1$c2FsdA$aGFzaA"')}\n`;
    const c = parseConfigText(yaml, 'example-mqtt');
    expect(c.devices.mqtt?.enabled).toBe(true);
    expect((c.devices.mqtt as { rules: unknown[] }).rules).toHaveLength(2);
  });

  it('parses sizes and durations', () => {
    const c = parseConfigText('buffer:\n  maxBytes: 512MiB\n  commitInterval: 50ms\n  maxAge: 2h\n', 't');
    expect(c.buffer.maxBytes).toBe(512 * 1024 * 1024);
    expect(c.buffer.commitInterval).toBe(50);
    expect(c.buffer.maxAge).toBe(7_200_000);
  });

  it.each([
    ['kafka:\n  brokers: [localhost]\n', 'kafka.brokers[0]', 'host:port'],
    ['buffer:\n  maxBytes: lots\n', 'buffer.maxBytes', 'not a size'],
    ['buffer:\n  cipher: rot13\n', 'buffer.cipher', ''],
    ['buffer:\n  commitInterval: soon\n', 'buffer.commitInterval', 'not a duration'],
    ['kafka:\n  brokerz: [a:1]\n', 'kafka', 'brokerz'],
    ['gateway:\n  id: "has spaces"\n', 'gateway.id', 'letters'],
    ['kafka:\n  sasl:\n    mechanism: plain\n', 'kafka.sasl.username', ''],
  ])('refuses %j naming %s', (text, path, why) => {
    const p = problems(text);
    const hit = p.find((line) => line.startsWith(`${path}:`) || line.startsWith(`${path}`));
    expect(hit, `problems: ${p.join(' | ')}`).toBeDefined();
    if (why) expect(hit).toContain(why);
  });

  it('refuses YAML that does not parse, and a file that is not a mapping', () => {
    expect(() => parseConfigText('kafka: [unclosed', 'bad.yaml')).toThrow(/bad.yaml: not valid YAML/);
    expect(() => parseConfigText('- a\n- b\n', 'list.yaml')).toThrow(/expected a mapping/);
  });

  it('a missing file is a clear error', () => {
    expect(() => loadConfigFile('/nonexistent/wardgate.yaml')).toThrow(/cannot read \(ENOENT\)/);
  });

  it('secrets and brokers can come from the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-cfg-'));
    const f = join(dir, 'c.yaml');
    writeFileSync(f, 'kafka:\n  sasl:\n    mechanism: scram-sha-512\n    username: wg\n');
    const saved = { ...process.env };
    try {
      process.env.WARDGATE_KAFKA_PASSWORD = 's3cret';
      process.env.WARDGATE_KAFKA_BROKERS = 'a:1, b:2';
      process.env.WARDGATE_KEY_FILE = '/k/key';
      const c = loadConfigFile(f);
      expect(c.kafka.sasl?.password).toBe('s3cret');
      expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
      expect(c.buffer.keyFile).toBe('/k/key');
      expect(readFileSync(f, 'utf8')).not.toContain('s3cret');
    } finally {
      process.env = saved;
    }
  });
});
