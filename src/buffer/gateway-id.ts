/**
 * The gateway id: from the configuration when given, else generated once and kept in
 * the data folder (file `gateway-id`), so two gateways never share one and a restart
 * keeps it.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const GATEWAY_ID_FILE = 'gateway-id';
const VALID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Returns `configured` when given (validated), else the id stored in `<dataDir>/gateway-id`,
 * creating that file with a fresh random id (`gw-` + 16 hex digits) the first time.
 */
export function getOrCreateGatewayId(dataDir: string, configured?: string): string {
  if (configured !== undefined) {
    if (!VALID.test(configured)) throw new Error(`gateway id ${JSON.stringify(configured)} must be 1-64 of letters, digits, . _ -`);
    return configured;
  }
  const path = join(dataDir, GATEWAY_ID_FILE);
  const read = (): string | undefined => {
    try {
      const s = readFileSync(path, 'utf8').trim();
      if (!VALID.test(s)) throw new Error(`${path} holds no valid gateway id; fix or remove it`);
      return s;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  };
  const existing = read();
  if (existing) return existing;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const id = `gw-${randomBytes(8).toString('hex')}`;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      const other = read();
      if (other) return other;
    }
    throw e;
  }
  try {
    writeSync(fd, `${id}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return id;
}
