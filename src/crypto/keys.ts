/**
 * The data key file: a small JSON document, mode 0600, holding one or more 256-bit
 * keys, each with a numeric id, and which id is active (used for new seals).
 *
 *   { "format": "wardgate-keys", "version": 1, "active": 2,
 *     "keys": [ { "id": 1, "created": "...", "key": "<base64>" }, { "id": 2, ... } ] }
 *
 * `generateKeyFile(path)` creates it; `{ rotate: true }` adds a new active key and keeps
 * the old ones, so units sealed under them stay readable until drained. `removeKey`
 * drops a retired key, and refuses while the buffer still holds units sealed with it.
 * `loadKeyRing` refuses a file that group or others can read or write.
 */
import { randomBytes, createHmac } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { KEY_BYTES } from './aead.js';

export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyFileError';
  }
}

export interface KeyFileInfo {
  path: string;
  activeKeyId: number;
  keyIds: number[];
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

interface KeyEntryJson {
  id: number;
  created: string;
  key: string;
}
interface KeyFileJson {
  format: 'wardgate-keys';
  version: 1;
  active: number;
  keys: KeyEntryJson[];
}

/** A non-secret check value of a key: the first 8 bytes of HMAC-SHA256(key, label), hex. */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('wardgate key check v1').digest().subarray(0, 8).toString('hex');
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Writes the file atomically with mode 0600 (temp file, fsync, rename, fsync dir). */
function writeKeyFile(path: string, doc: KeyFileJson): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* ignore */
    }
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, 0o600); // in case the umask was odd
  renameSync(tmp, path);
  fsyncDir(dir);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function checkPermissions(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyFileError(`key file ${path} does not exist (create one with: wardgate keygen)`);
    }
    throw new KeyFileError(`cannot read key file ${path}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw new KeyFileError(`key file ${path} is not a regular file`);
  const mode = st.mode & 0o777;
  if (mode & 0o077) {
    throw new KeyFileError(
      `key file ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); ` +
        `refusing to use it. Fix with: chmod 600 ${path}`,
    );
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid !== undefined && uid !== 0 && st.uid !== uid) {
    throw new KeyFileError(`key file ${path} is owned by uid ${st.uid}, not by the service user (uid ${uid}); refusing to use it`);
  }
}

function parseKeyFile(path: string): KeyFileJson {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new KeyFileError(`key file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  const d = doc as Partial<KeyFileJson>;
  if (!d || d.format !== 'wardgate-keys' || d.version !== 1 || !Array.isArray(d.keys) || typeof d.active !== 'number') {
    throw new KeyFileError(`key file ${path} is not a wardgate key file (format wardgate-keys, version 1)`);
  }
  const seen = new Set<number>();
  for (const k of d.keys) {
    if (!k || !Number.isInteger(k.id) || k.id < 1 || k.id > 0xffffffff) throw new KeyFileError(`key file ${path}: bad key id`);
    if (seen.has(k.id)) throw new KeyFileError(`key file ${path}: duplicate key id ${k.id}`);
    seen.add(k.id);
    if (typeof k.key !== 'string' || Buffer.from(k.key, 'base64').length !== KEY_BYTES) {
      throw new KeyFileError(`key file ${path}: key ${k.id} is not ${KEY_BYTES} bytes of base64`);
    }
  }
  if (!seen.has(d.active)) throw new KeyFileError(`key file ${path}: active key id ${d.active} is not in the file`);
  return d as KeyFileJson;
}

const info = (path: string, d: KeyFileJson): KeyFileInfo => ({ path, activeKeyId: d.active, keyIds: d.keys.map((k) => k.id) });

const newEntry = (id: number): KeyEntryJson => ({ id, created: new Date().toISOString(), key: randomBytes(KEY_BYTES).toString('base64') });

/**
 * Creates a key file with one fresh key (id 1). With `rotate: true` on an existing file,
 * adds a new key (highest id + 1) and makes it active; older keys stay for reading.
 * Without `rotate`, an existing file is never overwritten.
 */
export function generateKeyFile(path: string, opts: { rotate?: boolean } = {}): KeyFileInfo {
  if (exists(path)) {
    if (!opts.rotate) throw new KeyFileError(`key file ${path} already exists; use --rotate to add a new active key`);
    checkPermissions(path);
    const d = parseKeyFile(path);
    const id = Math.max(...d.keys.map((k) => k.id)) + 1;
    const next: KeyFileJson = { ...d, active: id, keys: [...d.keys, newEntry(id)] };
    writeKeyFile(path, next);
    return info(path, next);
  }
  const doc: KeyFileJson = { format: 'wardgate-keys', version: 1, active: 1, keys: [newEntry(1)] };
  writeKeyFile(path, doc);
  return info(path, doc);
}

/** Loads the key file. Refuses a file group or others can access, or one owned by another user. */
export function loadKeyRing(path: string): KeyRing {
  checkPermissions(path);
  const d = parseKeyFile(path);
  const keys = new Map<number, Buffer>(d.keys.map((k) => [k.id, Buffer.from(k.key, 'base64')]));
  const fps = new Map<number, string>([...keys].map(([id, k]) => [id, keyFingerprint(k)]));
  const keyIds = Object.freeze([...keys.keys()].sort((a, b) => a - b));
  return Object.freeze({
    path,
    activeKeyId: d.active,
    keyIds,
    get: (id: number) => keys.get(id),
    fingerprint: (id: number) => fps.get(id),
  });
}

/** Lists the key file's ids without exposing key material. */
export function describeKeyFile(path: string): KeyFileInfo {
  checkPermissions(path);
  return info(path, parseKeyFile(path));
}

/**
 * Removes a retired key. Refused for the active key and for any key in `inUse` (the
 * buffer's `keyIdsInUse`, which includes quarantined units: see readBufferStats).
 */
export function removeKey(path: string, keyId: number, inUse: readonly number[]): KeyFileInfo {
  checkPermissions(path);
  const d = parseKeyFile(path);
  if (!d.keys.some((k) => k.id === keyId)) throw new KeyFileError(`key file ${path} has no key ${keyId}`);
  if (d.active === keyId) throw new KeyFileError(`key ${keyId} is the active key; rotate first (wardgate keygen --rotate)`);
  if (inUse.includes(keyId)) {
    throw new KeyFileError(`key ${keyId} still seals buffered units; it can be removed once they are drained (see wardgate status)`);
  }
  const next: KeyFileJson = { ...d, keys: d.keys.filter((k) => k.id !== keyId) };
  writeKeyFile(path, next);
  return info(path, next);
}
