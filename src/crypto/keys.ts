/**
 * The data key file: a small JSON document, mode 0600, holding one or more 256-bit
 * keys, each with a numeric id, and which id is active (used for new seals).
 *
 *   { "format": "wardgate-keys", "version": 1, "active": 2,
 *     "keys": [ { "id": 1, "created": "...", "key": "<base64>" }, { "id": 2, ... } ] }
 *
 * Optionally the keys are wrapped (AES-256-GCM, associated data = key id) under a
 * key-encryption key derived from a passphrase (scrypt, N=2^15 r=8 p=1) or from a
 * hardware secret file (HKDF-SHA256); the file then holds `"kek": {...}` and per key
 * `"wrapped"` instead of `"key"`. The passphrase / secret file come from the options or
 * from WARDGATE_KEY_PASSPHRASE / WARDGATE_KEY_SECRET_FILE.
 *
 * `generateKeyFile(path)` creates it; `{ rotate: true }` adds a new active key and keeps
 * the old ones, so units sealed under them stay readable until drained. `removeKey`
 * drops a retired key, and refuses while the buffer still holds units sealed with it.
 * `loadKeyRing` refuses a file that group or others can read or write.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileDurably } from '../durable-file.js';
import { ConfigurationError } from '../errors.js';
import { checkPrivateFile } from '../secret-file.js';
import { KEY_BYTES } from './aead.js';

/** A key file, passphrase or secret file problem: a configuration error (exit 2). Never holds key material. */
export class KeyFileError extends ConfigurationError {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

export interface KeyFileInfo {
  path: string;
  activeKeyId: number;
  keyIds: number[];
  /** How the keys are protected at rest besides the file mode. */
  protection: 'none' | 'passphrase' | 'secret-file';
}

export interface KeyRing {
  readonly path: string;
  readonly activeKeyId: number;
  readonly keyIds: readonly number[];
  /** The key with this id, or undefined. */
  get(id: number): Buffer | undefined;
  /** Short non-secret check value of a key (HMAC), stored with the buffer to catch a wrong key file. */
  fingerprint(id: number): string | undefined;
}

/** Where the key-encryption key comes from (else env WARDGATE_KEY_PASSPHRASE / WARDGATE_KEY_SECRET_FILE). */
export interface KeyProtection {
  passphrase?: string;
  /** A file holding a hardware or provisioning secret (at least 16 bytes). */
  secretFile?: string;
}

interface KeyEntryJson {
  id: number;
  created: string;
  key?: string;
  wrapped?: string;
}
type KekJson = { kdf: 'scrypt'; salt: string; N: number; r: number; p: number } | { kdf: 'hkdf-sha256'; salt: string };
interface KeyFileJson {
  format: 'wardgate-keys';
  version: 1;
  active: number;
  kek?: KekJson;
  keys: KeyEntryJson[];
}

const SCRYPT = { N: 2 ** 15, r: 8, p: 1 };

/** A non-secret check value of a key: the first 8 bytes of HMAC-SHA256(key, label), hex. */
function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('wardgate key check v1').digest().subarray(0, 8).toString('hex');
}

/** Writes the file atomically with mode 0600 (temp file, fsync, rename, fsync dir). */
function writeKeyFile(path: string, doc: KeyFileJson): void {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileDurably(path, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  } catch (e) {
    // The error names the file and the code; never the document (it holds the keys).
    throw new KeyFileError(`cannot write key file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    throw new KeyFileError(`cannot read key file ${path} (${code ?? 'error'})`);
  }
}

function checkPermissions(path: string, what = 'key file'): void {
  if (what === 'key file' && !exists(path)) throw new KeyFileError(`key file ${path} does not exist (create one with: wardgate keygen)`);
  checkPrivateFile(path, what, (m) => new KeyFileError(m));
}

function parseKeyFile(path: string): KeyFileJson {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new KeyFileError(`cannot read key file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // Never the parser's message: it quotes the file, i.e. key material.
    throw new KeyFileError(`key file ${path} is not valid JSON (is it a wardgate key file? make one with: wardgate keygen)`);
  }
  const parsed = doc as Partial<KeyFileJson>;
  if (parsed?.format !== 'wardgate-keys' || parsed.version !== 1 || !Array.isArray(parsed.keys) || typeof parsed.active !== 'number') {
    throw new KeyFileError(`key file ${path} is not a wardgate key file (format wardgate-keys, version 1)`);
  }
  if (parsed.kek !== undefined && !(parsed.kek && typeof parsed.kek.salt === 'string' && (parsed.kek.kdf === 'scrypt' || parsed.kek.kdf === 'hkdf-sha256'))) {
    throw new KeyFileError(`key file ${path}: unknown key protection`);
  }
  const seen = new Set<number>();
  for (const k of parsed.keys) {
    if (!k || !Number.isInteger(k.id) || k.id < 1 || k.id > 0xffffffff) throw new KeyFileError(`key file ${path}: bad key id`);
    if (seen.has(k.id)) throw new KeyFileError(`key file ${path}: duplicate key id ${k.id}`);
    seen.add(k.id);
    if (parsed.kek) {
      if (typeof k.wrapped !== 'string' || Buffer.from(k.wrapped, 'base64').length !== 12 + KEY_BYTES + 16) {
        throw new KeyFileError(`key file ${path}: key ${k.id} is not a wrapped key`);
      }
    } else if (typeof k.key !== 'string' || Buffer.from(k.key, 'base64').length !== KEY_BYTES) {
      throw new KeyFileError(`key file ${path}: key ${k.id} is not ${KEY_BYTES} bytes of base64`);
    }
  }
  if (!seen.has(parsed.active)) throw new KeyFileError(`key file ${path}: active key id ${parsed.active} is not in the file`);
  return parsed as KeyFileJson;
}

const protectionOf = (file: KeyFileJson): KeyFileInfo['protection'] => (!file.kek ? 'none' : file.kek.kdf === 'scrypt' ? 'passphrase' : 'secret-file');
const info = (path: string, file: KeyFileJson): KeyFileInfo => ({
  path,
  activeKeyId: file.active,
  keyIds: file.keys.map((k) => k.id),
  protection: protectionOf(file),
});

function protectionFrom(opts: KeyProtection): KeyProtection {
  const passphrase = opts.passphrase ?? process.env.WARDGATE_KEY_PASSPHRASE;
  const secretFile = opts.secretFile ?? process.env.WARDGATE_KEY_SECRET_FILE;
  const out: KeyProtection = {};
  if (passphrase !== undefined && passphrase !== '') out.passphrase = passphrase;
  if (secretFile !== undefined && secretFile !== '') out.secretFile = secretFile;
  return out;
}

function newKek(p: KeyProtection): KekJson | undefined {
  const salt = randomBytes(16).toString('base64');
  if (p.passphrase !== undefined) return { kdf: 'scrypt', salt, ...SCRYPT };
  if (p.secretFile !== undefined) return { kdf: 'hkdf-sha256', salt };
  return undefined;
}

function deriveKek(path: string, kek: KekJson, p: KeyProtection): Buffer {
  const salt = Buffer.from(kek.salt, 'base64');
  if (kek.kdf === 'scrypt') {
    if (p.passphrase === undefined) throw new KeyFileError(`key file ${path} is protected by a passphrase: set WARDGATE_KEY_PASSPHRASE`);
    if (p.passphrase.length < 8) throw new KeyFileError('the key passphrase must have at least 8 characters');
    return scryptSync(p.passphrase, salt, 32, { N: kek.N, r: kek.r, p: kek.p, maxmem: 256 * kek.N * kek.r });
  }
  if (p.secretFile === undefined) throw new KeyFileError(`key file ${path} is protected by a secret file: set WARDGATE_KEY_SECRET_FILE`);
  checkPermissions(p.secretFile, 'secret file');
  let secret: Buffer;
  try {
    secret = readFileSync(p.secretFile);
  } catch (e) {
    throw new KeyFileError(`cannot read secret file ${p.secretFile} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (secret.length < 16) throw new KeyFileError(`secret file ${p.secretFile} holds fewer than 16 bytes`);
  return Buffer.from(hkdfSync('sha256', secret, salt, 'wardgate key-encryption key v1', 32));
}

const wrapAad = (id: number): Buffer => Buffer.from(`wardgate key ${id}`, 'utf8');

function wrap(kek: Buffer, id: number, key: Buffer): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, nonce, { authTagLength: 16 });
  c.setAAD(wrapAad(id));
  const ct = Buffer.concat([c.update(key), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64');
}

function unwrap(path: string, kek: Buffer, id: number, wrapped: string): Buffer {
  const b = Buffer.from(wrapped, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12), { authTagLength: 16 });
    decipher.setAuthTag(b.subarray(b.length - 16));
    decipher.setAAD(wrapAad(id));
    return Buffer.concat([decipher.update(b.subarray(12, b.length - 16)), decipher.final()]);
  } catch {
    throw new KeyFileError(`key file ${path}: cannot unwrap key ${id}: wrong passphrase or secret file`);
  }
}

/** Clear keys of a parsed file (unwrapping when protected). */
function clearKeys(path: string, parsed: KeyFileJson, p: KeyProtection): Map<number, Buffer> {
  if (!parsed.kek) return new Map(parsed.keys.map((k) => [k.id, Buffer.from(k.key!, 'base64')]));
  const kek = deriveKek(path, parsed.kek, p);
  return new Map(parsed.keys.map((k) => [k.id, unwrap(path, kek, k.id, k.wrapped!)]));
}

function entry(id: number, key: Buffer, kek: Buffer | undefined): KeyEntryJson {
  const created = new Date().toISOString();
  return kek ? { id, created, wrapped: wrap(kek, id, key) } : { id, created, key: key.toString('base64') };
}

/**
 * Creates a key file with one fresh key (id 1), wrapped when a passphrase or secret file
 * is given (options or env). With `rotate: true` on an existing file, adds a new key
 * (highest id + 1) and makes it active; older keys stay for reading. Without `rotate`,
 * an existing file is never overwritten.
 */
export function generateKeyFile(path: string, opts: { rotate?: boolean } & KeyProtection = {}): KeyFileInfo {
  const prot = protectionFrom(opts);
  if (exists(path)) {
    if (!opts.rotate) throw new KeyFileError(`key file ${path} already exists; use --rotate to add a new active key`);
    checkPermissions(path);
    const parsed = parseKeyFile(path);
    const kek = parsed.kek ? deriveKek(path, parsed.kek, prot) : undefined;
    if (kek) clearKeys(path, parsed, prot); // proves the passphrase/secret before adding a key under it
    const id = Math.max(...parsed.keys.map((k) => k.id)) + 1;
    const next: KeyFileJson = { ...parsed, active: id, keys: [...parsed.keys, entry(id, randomBytes(KEY_BYTES), kek)] };
    writeKeyFile(path, next);
    return info(path, next);
  }
  const kekJson = newKek(prot);
  const kek = kekJson ? deriveKek(path, kekJson, prot) : undefined;
  const doc: KeyFileJson = {
    format: 'wardgate-keys',
    version: 1,
    active: 1,
    ...(kekJson ? { kek: kekJson } : {}),
    keys: [entry(1, randomBytes(KEY_BYTES), kek)],
  };
  writeKeyFile(path, doc);
  return info(path, doc);
}

/**
 * Loads the key file. Refuses a file group or others can access, or one owned by another
 * user; unwraps protected keys with the passphrase / secret file (options or env).
 */
export function loadKeyRing(path: string, opts: KeyProtection = {}): KeyRing {
  checkPermissions(path);
  const parsed = parseKeyFile(path);
  const keys = clearKeys(path, parsed, protectionFrom(opts));
  const fps = new Map<number, string>([...keys].map(([id, k]) => [id, keyFingerprint(k)]));
  const keyIds = Object.freeze([...keys.keys()].sort((a, b) => a - b));
  return Object.freeze({
    path,
    activeKeyId: parsed.active,
    keyIds,
    get: (id: number) => keys.get(id),
    fingerprint: (id: number) => fps.get(id),
  });
}

/** Lists the key file's ids without unwrapping or exposing key material. */
export function describeKeyFile(path: string): KeyFileInfo {
  checkPermissions(path);
  return info(path, parseKeyFile(path));
}

/**
 * Removes a retired key. Refused for the active key and for any key in `inUse` (the
 * buffer's `keyIdsInUse`, plus `quarantineKeyIds` if the quarantine should stay readable:
 * see readBufferStats).
 */
export function removeKey(path: string, keyId: number, inUse: readonly number[]): KeyFileInfo {
  checkPermissions(path);
  const parsed = parseKeyFile(path);
  if (!parsed.keys.some((k) => k.id === keyId)) throw new KeyFileError(`key file ${path} has no key ${keyId}`);
  if (parsed.active === keyId) throw new KeyFileError(`key ${keyId} is the active key; rotate first (wardgate keygen --rotate)`);
  if (inUse.includes(keyId)) {
    // Not a configuration error (exit 1): the state of the buffer refuses it for now.
    throw new Error(`key ${keyId} still seals buffered units; it can be removed once they are drained (see wardgate status)`);
  }
  const next: KeyFileJson = { ...parsed, keys: parsed.keys.filter((k) => k.id !== keyId) };
  writeKeyFile(path, next);
  return info(path, next);
}
