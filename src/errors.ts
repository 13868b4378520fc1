/**
 * Errors that mean "the configuration is wrong" (the key file, the data folder, a setting),
 * as opposed to a runtime condition (a port in use, Kafka away). The command exits 2 for the
 * first kind and 1 for the second: systemd's Restart=on-failure retries a runtime condition,
 * and an operator sees at once which kind it is.
 *
 * Messages name files, settings and key ids, never the content of a key, password or secret file.
 */
export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigurationError';
  }
}

/** Node error codes of a listen() that the configuration got wrong (an address this machine does not have, a name that does not resolve, a privileged port). */
const CONFIG_LISTEN_CODES = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EACCES', 'EAFNOSUPPORT', 'EINVAL', 'ERR_SOCKET_BAD_PORT']);
/** Node error codes of creating or opening the data folder that the configuration got wrong. */
const CONFIG_FS_CODES = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EEXIST', 'EROFS', 'ENAMETOOLONG', 'ELOOP']);

export function errorCode(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** A listen() failure: configuration (2) or runtime (1, e.g. EADDRINUSE: someone else holds the port now). */
export function isConfigListenError(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && CONFIG_LISTEN_CODES.has(c);
}

/** A failure to create or open a configured folder or file that retrying will not fix. */
export function isConfigFsError(e: unknown): boolean {
  const c = errorCode(e);
  return c !== undefined && CONFIG_FS_CODES.has(c);
}
