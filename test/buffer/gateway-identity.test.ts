/**
 * gatewayIdentity on real files: the machine a data folder was made on (a digest in
 * `gateway-machine`) against the machine it starts on. Fingerprints are given by the test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gatewayIdentity, getOrCreateGatewayId, machineFingerprint } from '../../src/buffer/gateway-id.js';
import { tempDir } from '../helpers/gateway.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const idFile = (dir: string): string => readFileSync(join(dir, 'gateway-id'), 'utf8').trim();

describe('gateway identity and the machine', () => {
  it('same machine: one id across starts; another machine: a new id, kept from then on there', () => {
    const dir = tempDir();
    const first = gatewayIdentity(dir, undefined, A);
    expect(first).toEqual({ id: idFile(dir) });
    expect(gatewayIdentity(dir, undefined, A)).toEqual({ id: first.id });
    const moved = gatewayIdentity(dir, undefined, B);
    expect(moved.replaced).toBe(first.id);
    expect(moved.id).not.toBe(first.id);
    expect(idFile(dir)).toBe(moved.id);
    expect(gatewayIdentity(dir, undefined, B)).toEqual({ id: moved.id });
  });

  it('a folder made before the machine was recorded (an earlier version) keeps its id and records this machine', () => {
    const dir = tempDir();
    const old = getOrCreateGatewayId(dir);
    expect(gatewayIdentity(dir, undefined, A)).toEqual({ id: old });
    expect(gatewayIdentity(dir, undefined, B).replaced).toBe(old);
  });

  it('no machine identity readable: the id is kept, whatever was recorded', () => {
    const dir = tempDir();
    const { id } = gatewayIdentity(dir, undefined, A);
    expect(gatewayIdentity(dir, undefined, null)).toEqual({ id });
    expect(gatewayIdentity(dir, undefined, A)).toEqual({ id });
  });

  it('a configured id stays on another machine, and says so once', () => {
    const dir = tempDir();
    expect(gatewayIdentity(dir, 'ward-7a', A)).toEqual({ id: 'ward-7a' });
    expect(gatewayIdentity(dir, 'ward-7a', B)).toEqual({ id: 'ward-7a', configuredFromElsewhere: true });
    expect(gatewayIdentity(dir, 'ward-7a', B)).toEqual({ id: 'ward-7a' });
  });

  it('the fingerprint: a digest of the sources that can be read, not their text; null when none can', () => {
    const dir = tempDir();
    const mid = join(dir, 'machine-id');
    const serial = join(dir, 'serial-number');
    writeFileSync(mid, '0123456789abcdef0123456789abcdef\n');
    writeFileSync(serial, '10000000abcd1234\0');
    const both = machineFingerprint([mid, serial]);
    expect(both).toMatch(/^[0-9a-f]{32}$/);
    expect(both).not.toContain('0123456789abcdef');
    expect(machineFingerprint([mid, join(dir, 'absent')])).not.toBe(both);
    writeFileSync(serial, '10000000abcd9999\0');
    expect(machineFingerprint([mid, serial])).not.toBe(both);
    expect(machineFingerprint([join(dir, 'absent')])).toBeNull();
  });
});
