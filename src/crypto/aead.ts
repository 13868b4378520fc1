/**
 * AEAD sealing of buffer units with node:crypto: AES-256-GCM (default) or
 * ChaCha20-Poly1305 (for CPUs without AES instructions, e.g. a Raspberry Pi 4).
 *
 * Sealed layout: [12-byte nonce][ciphertext][16-byte tag]. The caller binds the
 * ciphertext to its position through the associated data.
 *
 * Nonce policy: a fresh random 96-bit nonce per seal (crypto.randomFillSync, drawn
 * from a pool). With random nonces the collision probability after q seals under one
 * key is about q²/2^97; NIST SP 800-38D caps random-nonce GCM at 2^32 seals per key.
 * The buffer counts seals per key id and refuses to seal more than SEAL_LIMIT_PER_KEY
 * under one key (warning from SEAL_WARN_PER_KEY on), so the bound is enforced, not
 * just hoped for: rotate the key before it is reached. Random nonces, unlike a stored
 * counter, stay safe when a database is restored from a copy or moved aside.
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';

export const CIPHERS = ['aes-256-gcm', 'chacha20-poly1305'] as const;
export type CipherName = (typeof CIPHERS)[number];
export const cipherIndex = (c: CipherName): number => CIPHERS.indexOf(c);
export const cipherByIndex = (i: number): CipherName | undefined => CIPHERS[i];

export const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;
/** Hard bound of seals per key (random 96-bit nonces): 2^32 (NIST SP 800-38D §8.3). */
export const SEAL_LIMIT_PER_KEY = 2 ** 32;
/** From here on the buffer warns that the key should be rotated. */
export const SEAL_WARN_PER_KEY = 2 ** 31;

export class AuthenticationFailed extends Error {
  constructor(message = 'sealed data failed authentication') {
    super(message);
    this.name = 'AuthenticationFailed';
  }
}

const POOL_SIZE = NONCE_BYTES * 1024;
let pool = Buffer.alloc(0);
let poolPos = POOL_SIZE;

function nextNonce(out: Buffer, offset: number): void {
  if (poolPos + NONCE_BYTES > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE));
    poolPos = 0;
  }
  pool.copy(out, offset, poolPos, poolPos + NONCE_BYTES);
  // Never hand out the same pool bytes twice.
  pool.fill(0, poolPos, poolPos + NONCE_BYTES);
  poolPos += NONCE_BYTES;
}

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new Error(`AEAD key must be ${KEY_BYTES} bytes, got ${key.length}`);
}

/**
 * Seals `plaintext` under `key` with associated data `aad`. Writes `prefix` (may be
 * empty) in front of the sealed bytes so callers can add a header without a copy.
 */
export function seal(cipher: CipherName, key: Buffer, plaintext: Buffer, aad: Buffer, prefix: Buffer = Buffer.alloc(0)): Buffer {
  checkKey(key);
  const out = Buffer.allocUnsafe(prefix.length + NONCE_BYTES + plaintext.length + TAG_BYTES);
  prefix.copy(out, 0);
  const nOff = prefix.length;
  nextNonce(out, nOff);
  const nonce = out.subarray(nOff, nOff + NONCE_BYTES);
  const c =
    cipher === 'aes-256-gcm'
      ? createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
      : createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aad, { plaintextLength: plaintext.length });
  const a = c.update(plaintext);
  const b = c.final();
  let pos = nOff + NONCE_BYTES;
  a.copy(out, pos);
  pos += a.length;
  b.copy(out, pos);
  pos += b.length;
  c.getAuthTag().copy(out, pos);
  return out;
}

/** Opens bytes produced by `seal` (without its prefix). Throws AuthenticationFailed. */
export function open(cipher: CipherName, key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  checkKey(key);
  if (sealed.length < SEAL_OVERHEAD) throw new AuthenticationFailed('sealed data too short');
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  try {
    const decipher =
      cipher === 'aes-256-gcm'
        ? createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES })
        : createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(aad, { plaintextLength: body.length });
    const a = decipher.update(body);
    const b = decipher.final();
    return b.length ? Buffer.concat([a, b]) : a;
  } catch {
    throw new AuthenticationFailed();
  }
}
