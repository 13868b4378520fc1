/**
 * The gateway id: from the configuration when given, else generated once and kept in
 * the data folder (file `gateway-id`), so two gateways never share one and a restart
 * keeps it.
 *
 * A copied data folder would share it: a ward's Pis are often made from one SD card image, taken
 * after a first trial start. Consumers drop a reading as a duplicate when its (gatewayId, seq) was
 * seen, so one copy's readings would be dropped as the other's. The folder therefore also keeps a
 * digest of the machine it was made on (file `gateway-machine`: the systemd machine id and the
 * board's serial number, a Raspberry Pi's from the device tree; never the raw machine id). Started
 * on another machine, a generated id is replaced by a new one for the readings from then on (what
 * the buffer holds keeps its id); a configured id cannot be, and is warned about.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../durable-file.js';

const GATEWAY_ID_FILE = 'gateway-id';
const MACHINE_FILE = 'gateway-machine';
const VALID = /^[A-Za-z0-9._-]{1,64}$/;

/** What identifies this machine: the systemd machine id, and the board's serial number where the device tree has one (a Raspberry Pi). */
export const MACHINE_SOURCES: readonly string[] = ['/etc/machine-id', '/sys/firmware/devicetree/base/serial-number'];

/** A digest of what identifies this machine (`sources` that can be read), or null when none can be. */
export function machineFingerprint(sources: readonly string[] = MACHINE_SOURCES): string | null {
  const parts = sources.map((p) => {
    try {
      return readFileSync(p, 'utf8').replaceAll('\0', '').trim();
    } catch {
      return '';
    }
  });
  if (parts.every((x) => x === '')) return null;
  return createHash('sha256')
    .update(`wardgate-machine\0${parts.join('\0')}`)
    .digest('hex')
    .slice(0, 32);
}

export interface GatewayIdentity {
  id: string;
  /** The data folder was made on another machine, and its generated id `replaced` was replaced by `id`. */
  replaced?: string;
  /** The data folder was made on another machine, and `id` is configured (gateway.id): it stays. */
  configuredFromElsewhere?: boolean;
}

function readMachine(dataDir: string): string | undefined {
  try {
    const s = readFileSync(join(dataDir, MACHINE_FILE), 'utf8').trim();
    return /^[0-9a-f]{32}$/.test(s) ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The gateway id (getOrCreateGatewayId), checked against the machine: a folder made on another
 * machine (`machine`, this machine's fingerprint, differs from the one it recorded) gets a new
 * generated id, written before the new fingerprint (a crash between the two only takes one more
 * new id). A folder that recorded no machine (made by an earlier version) takes this one's.
 */
export function gatewayIdentity(dataDir: string, configured?: string, machine: string | null = machineFingerprint()): GatewayIdentity {
  const recorded = readMachine(dataDir);
  const elsewhere = machine !== null && recorded !== undefined && recorded !== machine;
  let out: GatewayIdentity;
  if (configured !== undefined || !elsewhere) {
    out = { id: getOrCreateGatewayId(dataDir, configured) };
    if (elsewhere) out.configuredFromElsewhere = true;
  } else {
    const old = getOrCreateGatewayId(dataDir);
    const id = newGatewayId();
    writeFileDurably(join(dataDir, GATEWAY_ID_FILE), `${id}\n`, 0o644);
    out = { id, replaced: old };
  }
  if (machine !== null && recorded !== machine) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileDurably(join(dataDir, MACHINE_FILE), `${machine}\n`, 0o644);
  }
  return out;
}

const newGatewayId = (): string => `gw-${randomBytes(8).toString('hex')}`;

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
  const id = newGatewayId();
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
