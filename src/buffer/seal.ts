/**
 * A unit's body on disk: its readings encoded (./codec.ts), raw-deflated when that is
 * smaller, and sealed (../crypto/aead.ts) under associated data binding it to its place.
 * Layout: format byte | nonce | ciphertext | tag. The format byte: bit0 deflated,
 * bits1-2 cipher, bits4-7 format version; it is part of the AAD.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { AuthenticationFailed, open as aeadOpen, type CipherName, cipherByIndex, cipherIndex, SEAL_OVERHEAD, seal } from '../crypto/aead.js';
import { type PendingReading, PRIORITY_CLASSES, type Reading } from '../reading.js';
import { CodecError, decodeUnitColumns, encodeUnit, readingsOf, type UnitColumns } from './codec.js';
import type { UnitRow } from './schema.js';

const FORMAT_VERSION = 1;
const F_DEFLATE = 1;
const AAD_LABEL = Buffer.from('wardgate/unit/v1\0', 'utf8');

export interface SealOptions {
  cipher: CipherName;
  /** Deflate before sealing when that makes the unit smaller. */
  compress: boolean;
}

/** Associated data binding a unit to its position: gateway, class, sequence range, count, key id, format. */
export function unitAad(gatewayId: Buffer, classIndex: number, first: number, n: number, keyId: number, format: number): Buffer {
  const a = Buffer.allocUnsafe(AAD_LABEL.length + 2 + gatewayId.length + 1 + 8 + 8 + 4 + 4 + 1);
  let p = AAD_LABEL.copy(a, 0);
  a.writeUInt16BE(gatewayId.length, p);
  p += 2;
  p += gatewayId.copy(a, p);
  a[p++] = classIndex;
  a.writeBigUInt64BE(BigInt(first), p);
  p += 8;
  a.writeBigUInt64BE(BigInt(first + n - 1), p);
  p += 8;
  a.writeUInt32BE(n, p);
  p += 4;
  a.writeUInt32BE(keyId, p);
  p += 4;
  a[p++] = format;
  return a;
}

/** Encodes (deflating when smaller) and seals the readings of the unit [first, first + n - 1] of a class. */
export function sealUnit(
  opts: SealOptions,
  readings: readonly PendingReading[],
  classIndex: number,
  first: number,
  keyId: number,
  key: Buffer,
  gatewayId: Buffer,
): Buffer {
  let plain = encodeUnit(readings);
  let format = (FORMAT_VERSION << 4) | (cipherIndex(opts.cipher) << 1);
  if (opts.compress && plain.length > 96) {
    const z = deflateRawSync(plain, { level: 6 });
    if (z.length < plain.length) {
      plain = z;
      format |= F_DEFLATE;
    }
  }
  return seal(opts.cipher, key, plain, unitAad(gatewayId, classIndex, first, readings.length, keyId, format), Buffer.of(format));
}

/**
 * Authenticates and decodes one unit row, given its key and its gateway (undefined when
 * unknown). Throws Error (unknown key), AuthenticationFailed or CodecError.
 */
export function openUnit(
  row: UnitRow,
  classIndex: number,
  key: Buffer | undefined,
  gatewayBytes: Buffer | undefined,
  gatewayId: string | undefined,
): Reading[] {
  return readingsOf(openUnitColumns(row, classIndex, key, gatewayBytes, gatewayId));
}

/** openUnit, the unit as columns (no Reading objects). */
export function openUnitColumns(
  row: UnitRow,
  classIndex: number,
  key: Buffer | undefined,
  gatewayBytes: Buffer | undefined,
  gatewayId: string | undefined,
): UnitColumns {
  if (!key) throw new Error('unknown key');
  if (!gatewayBytes || gatewayId === undefined) throw new AuthenticationFailed('unknown gateway');
  const body = row.body;
  if (body.length < 1 + SEAL_OVERHEAD || row.n < 1) throw new AuthenticationFailed('unit too short');
  const format = body[0]!;
  const cipher = cipherByIndex((format >> 1) & 3);
  if (!cipher || format >> 4 !== FORMAT_VERSION) throw new AuthenticationFailed('unknown unit format');
  let plain = aeadOpen(cipher, key, body.subarray(1), unitAad(gatewayBytes, classIndex, row.id, row.n, row.key_id, format));
  if (format & F_DEFLATE) {
    try {
      plain = inflateRawSync(plain);
    } catch {
      throw new CodecError('inflate failed');
    }
  }
  return decodeUnitColumns(plain, { gatewayId, priorityClass: PRIORITY_CLASSES[classIndex]!, firstSeq: row.id }, row.n);
}
